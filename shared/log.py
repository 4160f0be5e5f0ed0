"""Structured logging: one line per event with run_id, step and table; JSON lines in pods, readable on a TTY.

Every configured secret value is replaced by `***` in every line, whatever logged it (our code, boto, paramiko).
Redaction always comes first: before JSON encoding (which would escape a `"` or `\\` inside a secret), before
whitespace is folded (a secret may hold a newline) and before text is cut (half a secret no longer matches).
`one_line()` is the one way to turn any text or exception into a short single line for a message; `visible()` shows
a name from Redshift on one line as it is.
"""

from __future__ import annotations

import contextvars
import html
import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from shared.sqltext import comment_line

_table: contextvars.ContextVar[str | None] = contextvars.ContextVar("r2a_table", default=None)
_context: dict[str, str | None] = {"run_id": None, "step": None}
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_secret_pattern: re.Pattern[str] | None = None

# Credentials that show up in text we did not write ourselves (DSNs, UNLOAD statements, AWS error bodies).
_CREDENTIAL_SHAPES = [
    (re.compile(r"(?i)(password\s*=\s*)('[^']*'|\S+)"), r"\1***"),
    (re.compile(r"(?i)((?:secret_access_key|session_token|access_key_id)\s+)'[^']*'"), r"\1'***'"),
    (re.compile(r"(?i)(aws_secret_access_key=|token=)[^;'\s]+"), r"\1***"),
    (re.compile(r"(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),
]

# Bidirectional controls reorder how a line is displayed, so a name holding them can show as another
# ("Trojan Source", CVE-2021-42574; Unicode TR #9's explicit formatting characters).
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_BIDI = re.compile(f"[{_BIDI_CONTROLS}]")
_LINE_BREAKS_LEFT_BY_JSON = re.compile(f"[\x7f-\x9f\u2028\u2029{_BIDI_CONTROLS}]")

logger = logging.getLogger("r2a")


def _spellings(value: str) -> set[str]:
    """`value` as other code may already have re-encoded it before the text reaches us: JSON (ASCII or not),
    Python's repr, HTML, whitespace folded to single spaces."""
    forms = {value, " ".join(value.split()), json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
             repr(value)[1:-1], html.escape(value)}
    return {form for form in forms if len(form) >= 4}


def register_secret(value: str | None) -> None:
    """Never print `value` again. Values shorter than 4 characters are ignored: masking 'a' would garble every
    line, and such a value is no secret anyway."""
    global _secret_pattern
    if not value or len(value) < 4:
        return
    with _secrets_lock:
        _secrets.update(_spellings(value))
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def register_secrets(values: Iterable[str | None]) -> None:
    for value in values:
        register_secret(value)


def redact(text: str) -> str:
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub("***", text)
    for shape, replacement in _CREDENTIAL_SHAPES:
        text = shape.sub(replacement, text)
    return text


def one_line(text: object, limit: int | None = None) -> str:
    """`text` (any object, e.g. an exception) redacted, folded onto one line, its other control characters (a
    terminal escape in a name from Redshift) written as escapes, then cut to `limit` characters."""
    folded = comment_line(" ".join(redact(str(text)).split()))
    return folded if limit is None else folded[:limit]


def json_for_lines(text: str) -> str:
    """JSON text from json.dumps(ensure_ascii=False) with the C1 controls (\\x85, \\x9b), U+2028/2029 and the
    bidirectional controls it leaves as they are written as \\uXXXX: str.splitlines() and some log readers break
    lines on them, some terminals obey them, and bidirectional controls reorder what a reader sees. It reads back
    the same."""
    return _LINE_BREAKS_LEFT_BY_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def visible(text: object) -> str:
    """`text` (a name from Redshift) on one line as it is: each control, line-break or bidirectional control
    character written as an escape (\\n, \\u001b, \\u202e), so it can neither start a line, drive the terminal nor
    show as another name. Unlike one_line, spaces stay: "a\\nb" and "a b" are two names."""
    return _BIDI.sub(lambda m: f"\\u{ord(m.group()):04x}", comment_line(redact(str(text))))


def redact_value(value: object) -> object:
    """A JSON-ready copy of `value` with every string redacted (other objects become redacted strings): what to
    encode, so that JSON's escaping cannot hide a secret from the redaction."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {redact(str(key)): redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item) for item in value]
    return redact(str(value))


@contextmanager
def table_context(table: str | None) -> Iterator[None]:
    """Tag every log line emitted inside the block (this thread/task) with `table`."""
    token = _table.set(table)
    try:
        yield
    finally:
        _table.reset(token)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "run_id": _context["run_id"],
            "step": _context["step"],
            "table": getattr(record, "table", None) or _table.get(),
            "event": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}) or {})
        if record.name != "r2a" and not record.name.startswith("r2a."):
            entry["logger"] = record.name
        return json_for_lines(json.dumps(redact_value(entry), ensure_ascii=False))


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        table = getattr(record, "table", None) or _table.get()
        parts = [stamp, f"{record.levelname.lower():<7}", _context["step"] or "-"]
        if table:
            parts.append(table)
        parts.append(record.getMessage())
        extra = getattr(record, "fields", {}) or {}
        if extra:
            parts.append(" ".join(f"{k}={v}" for k, v in extra.items()))
        # Names and messages carry Redshift's text: a line break or a terminal escape in it stays visible (\\n,
        # \\u001b) instead of forging a line or recolouring the terminal, as in a SQL comment line.
        return visible(" ".join(str(p) for p in parts))


def configure(step: str, run_id: str | None = None, fmt: str = "auto", secrets: Iterable[str | None] = (),
              stream=None, level: int = logging.INFO) -> None:
    """Route all logging to one stderr handler in the chosen format. Safe to call more than once."""
    stream = stream or sys.stderr
    _context["step"], _context["run_id"] = step, run_id
    register_secrets(secrets)
    use_json = fmt == "json" or (fmt == "auto" and not getattr(stream, "isatty", lambda: False)())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JsonFormatter() if use_json else _TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_r2a", False):
            root.removeHandler(old)
    handler._r2a = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logger.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "paramiko", "sshtunnel", "google"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def event(name: str, *, table: str | None = None, level: int = logging.INFO, **fields) -> None:
    """Log one event: `event("phase.finished", table="public.sales", phase="load", duration_s=1.2)`."""
    logger.log(level, name, extra={"table": table, "fields": fields})


def set_run_id(run_id: str | None) -> None:
    _context["run_id"] = run_id
