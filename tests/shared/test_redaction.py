"""Secrets that JSON, repr, HTML or whitespace folding would re-spell, through every output r2a writes: JSON and
terminal logs, one-line error texts (cut to a length), the step boundary's error line and R2A_DEBUG traceback,
result JSON and the report's files.

Each secret reaches the code the way production registers it (a setting marked secret, via `step_boundary`), or
through `log.register_secret`. The assertions search for every spelling a reader could decode back to the secret.
"""

from __future__ import annotations

import html
import io
import json

import pytest
import typer

from shared import log
from shared.cli import step_boundary
from shared.errors import ExitCode, TargetError
from shared.results import ErrorInfo, TableResult, to_dict, to_json
from steps.report.collect import RawRun
from steps.report.core import build_report
from steps.report.timefmt import parse_ts
from tests.report import sample

QUOTED = 'Tr0ub4dor&3"x\\y'  # `"` and `\`: JSON escapes both
MULTILINE = "first-line\nsëcret-ünicode-🔑\tend"  # folding whitespace or \u-escaping changes it
LONG = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # long enough to be cut in half at a boundary
SECRETS = (QUOTED, MULTILINE, LONG)


def spellings(secret: str) -> set[str]:
    """Every form in which a reader could still recover the secret (or its first half, for cut text)."""
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1],
             html.escape(secret), " ".join(secret.split()), secret[: len(secret) // 2]}
    return {form for form in forms if len(form) >= 6}


def leaks(text: str) -> list[str]:
    return [form for secret in SECRETS for form in spellings(secret) if form in text]


@pytest.fixture(autouse=True)
def registered():
    log.register_secrets(SECRETS)


def test_the_search_finds_a_secret_in_each_spelling():
    for secret in SECRETS:
        for text in (secret, json.dumps({"e": secret}), repr([secret]), " ".join(secret.split())):
            assert leaks(text), text


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_log_lines_never_carry_a_secret(fmt):
    stream = io.StringIO()
    log.configure("unit", "db_20250101_000000", fmt=fmt, stream=stream)
    for secret in SECRETS:
        log.event(f"login failed for {secret}", password=secret, nested={"dsn": [f"x{secret}y"]}, obj=ValueError(secret))
        log.logger.warning("foreign text %s", secret)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 * len(SECRETS)
    assert leaks(stream.getvalue()) == []
    if fmt == "json":
        entries = [json.loads(line) for line in lines]
        assert entries[0]["password"] == "***" and entries[0]["nested"] == {"dsn": ["x***y"]}


def test_one_line_redacts_before_it_folds_and_cuts():
    cut_inside_the_secret = "y" * 290 + LONG
    assert log.one_line(cut_inside_the_secret, 300) == "y" * 290 + "***"
    assert log.one_line(f"a\n  {MULTILINE}\n b") == "a *** b"
    assert log.one_line("table s.\x1b[2Jt\u2028x\x07") == "table s.\\u001b[2Jt x\\u0007"
    # a credential r2a never registered, in the shape an UNLOAD error echoes it, cut in the middle of the key
    statement = "UNLOAD ('select 1') TO 's3://b/p' ACCESS_KEY_ID 'AKIAEXAMPLE' SECRET_ACCESS_KEY 'unregisteredKEY123'"
    shown = log.one_line(statement, len(statement) - 5)
    assert "unregistered" not in shown and "AKIAEXAMPLE" not in shown


def test_error_lines_and_result_json_never_carry_a_secret():
    error = TargetError(f"load failed near '{MULTILINE}'", f"check the password {QUOTED}")
    assert error.one_line().count("\n") == 0 and leaks(error.one_line()) == []
    internal = ErrorInfo.from_exception(RuntimeError("x" * 480 + LONG))
    assert internal.message.endswith("***")
    result = TableResult("db_20250101_000000", "public.t", "public.t", "failed", "2026-01-01T10:00:00.000Z",
                         error=ErrorInfo.from_exception(error))
    result.error.message += f" {QUOTED}"  # a field no boundary redacted: to_json still must
    text = to_json(result)
    assert json.loads(text)["error"]["message"].endswith("***")
    assert leaks(text) == []


@pytest.mark.parametrize("debug", ["0", "1"])
def test_step_boundary_error_line_and_debug_traceback(capsys, debug):
    environ = {"REDSHIFT_PASSWORD": QUOTED, "PGPASSWORD": MULTILINE, "AWS_SECRET_ACCESS_KEY": LONG,
               "R2A_LOG_FORMAT": "json", "R2A_DEBUG": debug}  # read like every setting: from the step's environ
    with pytest.raises(typer.Exit) as ended, step_boundary("unit", None, environ=environ):
        raise RuntimeError(f"boom {QUOTED} / {MULTILINE} / " + "z" * 240 + LONG)
    stderr = capsys.readouterr().err
    assert ended.value.exit_code == ExitCode.INTERNAL
    assert "r2a unit: error: internal error: RuntimeError: boom *** / *** / " in stderr
    assert ("Traceback (most recent call last)" in stderr) == (debug == "1")
    assert leaks(stderr) == []


def test_report_files_never_carry_a_secret():
    documents = sample.documents()
    failed = documents["results/public.events.json"]
    failed["error"]["message"] = f"value {QUOTED} in row 3 <{MULTILINE}>"  # as if a writer missed redaction
    failed["attempts"][0]["error"]["message"] = LONG
    documents["rewrite_report.json"]["objects"][1]["reason"] = f"default {QUOTED}"
    report = build_report(RawRun(sample.RUN_ID, documents), parse_ts(sample.REPORT_TIME),
                          {"schema_redshift.sql": None, "schema_alloydb.sql": None})
    texts = {name: content.decode() for name, content in report.files.items()}
    assert set(texts) >= {"summary.json", "report.html", f"{sample.RUN_ID}.log", f"{sample.RUN_ID}.tables"}
    assert "***" in texts[f"{sample.RUN_ID}.tables"]
    json.loads(texts["summary.json"])
    assert {name: leaks(text) for name, text in texts.items()} == {name: [] for name in texts}


def test_result_documents_round_trip_after_redaction():
    result = TableResult("db_20250101_000000", "public.t", "public.t", "succeeded", "2026-01-01T10:00:00.000Z",
                         rows_loaded=5)
    assert json.loads(to_json(result)) == json.loads(json.dumps(to_dict(result)))


def test_product_code_cuts_error_text_only_through_one_line():
    """Folding or cutting text by hand (`" ".join(str(exc).split())[:300]`) skips the redaction `one_line` does
    first; the emulator is not product code and keeps its own."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    by_hand = re.compile(r"""join\((?:str\()?(?:exc|error|hook_error)\b[^\n]*\.split\(\)\)|\{(?:exc|error)\}"\s*\)?\[:""")
    found = [f"{path.relative_to(root)}:{number}" for folder in ("shared", "steps", "workflows")
             for path in (root / folder).rglob("*.py")
             for number, line in enumerate(path.read_text().splitlines(), 1) if by_hand.search(line)]
    assert found == []
