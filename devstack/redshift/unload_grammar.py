"""Parse Redshift's UNLOAD statement into an UnloadCommand, enforcing the documented option rules.

Grammar (AWS Redshift Database Developer Guide, UNLOAD):
    UNLOAD ('select-statement') TO 's3://bucket/prefix' authorization [ option [ ... ] ]
String literals follow Redshift (PostgreSQL 8.0) rules: '' and \\' are a quote, and backslash escapes
(\\t, \\n, \\r, \\b, \\f, octal, \\\\) are processed, which is why DELIMITER AS '\\t' means a tab.
Each option word has one row in _OPTION_HANDLERS: its handler reads what follows the word, refuses an option given
twice and records the value; validate() then applies the documented rules on which options go together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from devstack.redshift.unload_errors import (
    INVALID,
    SYNTAX_ERROR,
    UNSUPPORTED,
    UnloadError,
)

MB = 1024 * 1024
MIN_FILE_SIZE = 5 * MB
MAX_FILE_SIZE = int(6.2 * 1024 * MB)

FORMATS = ("TEXT", "CSV", "PARQUET", "JSON")
COMPRESSIONS = {"GZIP": ".gz", "BZIP2": ".bz2", "ZSTD": ".zst"}
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]+$")


@dataclass(frozen=True)
class Credentials:
    """Exactly one of: an IAM role (or `default`), or keys."""

    iam_role: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None


@dataclass
class UnloadCommand:
    query: str
    bucket: str
    prefix: str
    credentials: Credentials
    format: str = "TEXT"
    delimiter: str | None = None
    header: bool = False
    manifest: bool = False
    manifest_verbose: bool = False
    compression: str | None = None          # a key of COMPRESSIONS
    addquotes: bool = False
    null_as: str | None = None
    escape: bool = False
    allowoverwrite: bool = False
    cleanpath: bool = False
    parallel: bool = True
    max_file_size: int = MAX_FILE_SIZE      # bytes
    region: str | None = None
    extension: str | None = None
    fixedwidth: tuple[int, ...] | None = None    # column widths, in query column order
    given: set[str] = field(default_factory=set)  # option names as written, for the combination rules

    @property
    def field_delimiter(self) -> str:
        if self.delimiter is not None:
            return self.delimiter
        return "," if self.format == "CSV" else "|"

    @property
    def file_suffix(self) -> str:
        if self.extension is not None:
            return "." + self.extension.lstrip(".") if self.extension else ""
        return COMPRESSIONS.get(self.compression or "", "")


# ---------------------------------------------------------------- tokens

@dataclass(frozen=True)
class Token:
    kind: str     # word, string, number, punct, end
    text: str     # words upper-cased; strings unescaped
    position: int


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"\d+(\.\d*)?|\.\d+")
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _skip_space_and_comments(text: str, i: int) -> int:
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise UnloadError(SYNTAX_ERROR, "unterminated /* comment in UNLOAD")
            i = end + 2
        else:
            return i
    return i


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a '...' literal starting at text[start] == "'"; returns (value, index after it)."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "'":
            if text.startswith("''", i):
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            octal = re.match(r"[0-7]{1,3}", text[i + 1:i + 4])
            if octal:
                out.append(chr(int(octal.group(0), 8)))
                i += 1 + len(octal.group(0))
                continue
            out.append(_SIMPLE_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    raise UnloadError(SYNTAX_ERROR, f"unterminated quoted string at or near position {start + 1}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = _skip_space_and_comments(text, 0)
    while i < len(text):
        ch = text[i]
        if ch == "'":
            value, i = _read_string(text, i)
            tokens.append(Token("string", value, i))
        elif word := _WORD.match(text, i):
            tokens.append(Token("word", word.group(0).upper(), i))
            i = word.end()
        elif number := _NUMBER.match(text, i):
            tokens.append(Token("number", number.group(0), i))
            i = number.end()
        elif ch in "(),;=":
            tokens.append(Token("punct", ch, i))
            i += 1
        else:
            raise UnloadError(SYNTAX_ERROR, f'syntax error at or near "{ch}" in UNLOAD')
        i = _skip_space_and_comments(text, i)
    while tokens and tokens[-1].kind == "punct" and tokens[-1].text == ";":
        tokens.pop()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Cursor:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        return self.current.kind == "word" and self.current.text in words

    def accept_word(self, *words: str) -> str | None:
        if self.at_word(*words):
            return self.take().text
        return None

    def expect_word(self, word: str) -> None:
        if not self.accept_word(word):
            self.fail()

    def expect_punct(self, punct: str) -> None:
        if self.current.kind == "punct" and self.current.text == punct:
            self.take()
        else:
            self.fail()

    def expect_string(self, what: str) -> str:
        if self.current.kind != "string":
            raise UnloadError(SYNTAX_ERROR, f"{what} must be a quoted string, got {_shown(self.current)}")
        return self.take().text

    def fail(self) -> None:
        raise UnloadError(SYNTAX_ERROR, f"syntax error at or near {_shown(self.current)}")


def _shown(token: Token) -> str:
    if token.kind == "end":
        return "end of input"
    if token.kind == "string":
        return f"\"'{token.text}'\""
    return f'"{token.text}"'


# ---------------------------------------------------------------- parser

def parse_unload(statement: str) -> UnloadCommand:
    cursor = _Cursor(tokenize(statement))
    cursor.expect_word("UNLOAD")
    cursor.expect_punct("(")
    query = cursor.expect_string("the UNLOAD query")
    cursor.expect_punct(")")
    cursor.expect_word("TO")
    bucket, prefix = split_s3_url(cursor.expect_string("the UNLOAD destination"))
    options = _Options()
    while cursor.current.kind != "end":
        _parse_option(cursor, options)
    command = UnloadCommand(query=query, bucket=bucket, prefix=prefix, credentials=options.credentials(),
                            **options.values, given=options.given)
    validate(command)
    return command


def split_s3_url(url: str) -> tuple[str, str]:
    match = re.match(r"^s3://([^/]+)(?:/(.*))?$", url, re.S)
    if not match or not match.group(1):
        raise UnloadError(INVALID, f"invalid S3 destination '{url}': expected 's3://bucket/prefix'")
    return match.group(1), match.group(2) or ""


class _Options:
    def __init__(self):
        self.values: dict[str, object] = {}
        self.given: set[str] = set()
        self.auth: dict[str, str] = {}

    def once(self, name: str) -> None:
        if name in self.given:
            raise UnloadError(SYNTAX_ERROR, f"conflicting or redundant options: {name} given twice")
        self.given.add(name)

    def credentials(self) -> Credentials:
        auth = self.auth
        if "IAM_ROLE" in self.given and ({"ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "CREDENTIALS"}
                                         & self.given):
            raise UnloadError(INVALID, "IAM_ROLE cannot be combined with ACCESS_KEY_ID, SECRET_ACCESS_KEY, "
                                         "SESSION_TOKEN or CREDENTIALS")
        if "CREDENTIALS" in self.given and ({"ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN"} & self.given):
            raise UnloadError(INVALID, "CREDENTIALS cannot be combined with ACCESS_KEY_ID, SECRET_ACCESS_KEY "
                                         "or SESSION_TOKEN")
        if "IAM_ROLE" in auth:
            return Credentials(iam_role=auth["IAM_ROLE"])
        if ("ACCESS_KEY_ID" in auth) != ("SECRET_ACCESS_KEY" in auth):
            raise UnloadError(INVALID, "ACCESS_KEY_ID and SECRET_ACCESS_KEY must be given together")
        if "SESSION_TOKEN" in auth and "ACCESS_KEY_ID" not in auth:
            raise UnloadError(INVALID, "SESSION_TOKEN requires ACCESS_KEY_ID and SECRET_ACCESS_KEY")
        if "ACCESS_KEY_ID" not in auth:
            raise UnloadError(INVALID, "UNLOAD needs authorization: IAM_ROLE, ACCESS_KEY_ID and "
                                         "SECRET_ACCESS_KEY, or CREDENTIALS")
        return Credentials(access_key_id=auth["ACCESS_KEY_ID"], secret_access_key=auth["SECRET_ACCESS_KEY"],
                           session_token=auth.get("SESSION_TOKEN"))


def _parse_credentials_string(text: str, auth: dict[str, str]) -> None:
    """'aws_access_key_id=..;aws_secret_access_key=..[;token=..]' or 'aws_iam_role=arn:..'."""
    names = {"aws_access_key_id": "ACCESS_KEY_ID", "aws_secret_access_key": "SECRET_ACCESS_KEY",
             "token": "SESSION_TOKEN", "aws_iam_role": "IAM_ROLE"}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in names:
            if key == "master_symmetric_key":
                raise UnloadError(UNSUPPORTED, "client-side encryption (master_symmetric_key) is not "
                                               "supported by the Redshift emulator")
            raise UnloadError(INVALID, f"invalid credentials string: unknown part '{key}' "
                                         "(expected aws_access_key_id, aws_secret_access_key, token or aws_iam_role)")
        auth[names[key]] = value.strip()
    if "IAM_ROLE" in auth and len(auth) > 1:
        raise UnloadError(INVALID, "invalid credentials string: aws_iam_role cannot be combined with keys")


def _parse_fixedwidth(spec: str) -> tuple[int, ...]:
    """'colID1:colWidth1,colID2:colWidth2,...': the labels are free text, the widths apply in column order."""
    widths = []
    for part in spec.split(","):
        _, sep, width = part.rpartition(":")
        if not sep or not width.strip().isdigit() or int(width) == 0:
            raise UnloadError(INVALID, f"invalid FIXEDWIDTH specification '{spec}': expected "
                                       "'label:width,label:width,...' with positive widths")
        widths.append(int(width))
    return tuple(widths)


def _parse_size(cursor: _Cursor, option: str) -> int:
    cursor.accept_word("AS")
    token = cursor.take()
    if token.kind != "number":
        raise UnloadError(SYNTAX_ERROR, f"{option} needs a number, got {_shown(token)}")
    unit = cursor.accept_word("MB", "GB") or "MB"
    return int(float(token.text) * (1024 if unit == "GB" else 1) * MB)


def _parse_option(cursor: _Cursor, options: _Options) -> None:
    """One option, read by its word's row in _OPTION_HANDLERS: values land in options.values, keys in options.auth."""
    word = cursor.current.text if cursor.current.kind == "word" else None
    if word is None:
        cursor.fail()
    cursor.take()
    handler = _OPTION_HANDLERS.get(word)
    if handler is None:
        raise UnloadError(SYNTAX_ERROR, f'syntax error at or near "{word}": not an UNLOAD option')
    handler(cursor, options, word)


# An option handler reads what follows the option's word (already taken) and records it in options.
# Where it calls options.once decides which error wins when an option repeats with a malformed value.
_Handler = Callable[[_Cursor, _Options, str], None]


def _flag(name: str, field: str) -> _Handler:
    """A bare word that sets a boolean field."""
    def handle(cursor: _Cursor, options: _Options, word: str) -> None:
        options.once(name)
        options.values[field] = True
    return handle


def _read_quoted(cursor: _Cursor, options: _Options, name: str) -> str:
    """WORD [AS] 'text': given once; returns the text."""
    cursor.accept_word("AS")
    options.once(name)
    return cursor.expect_string(name)


def _quoted(name: str, field: str, convert: Callable[[str], object] = str) -> _Handler:
    """WORD [AS] 'text' whose text, checked or converted by `convert`, is a field's value."""
    def handle(cursor: _Cursor, options: _Options, word: str) -> None:
        options.values[field] = convert(_read_quoted(cursor, options, name))
    return handle


def _single_ascii(delimiter: str) -> str:
    if len(delimiter) != 1 or not delimiter.isascii():
        raise UnloadError(INVALID, f"DELIMITER must be a single ASCII character, got '{delimiter}'")
    return delimiter


def _region_name(region: str) -> str:
    if not _REGION.match(region):
        raise UnloadError(INVALID, f"invalid REGION '{region}': not an AWS region name")
    return region


def _format_as(cursor: _Cursor, options: _Options, word: str) -> None:
    """FORMAT [AS] CSV | PARQUET | JSON."""
    cursor.accept_word("AS")
    fmt = cursor.accept_word("CSV", "PARQUET", "JSON")
    if not fmt:
        cursor.fail()
    _format_word(cursor, options, fmt)


def _format_word(cursor: _Cursor, options: _Options, word: str) -> None:
    """CSV, PARQUET or JSON alone: the format without FORMAT [AS]."""
    options.once("FORMAT")
    options.values["format"] = word


def _partition_by(cursor: _Cursor, options: _Options, word: str) -> None:
    """PARTITION BY ( column [, ...] ) [INCLUDE]: read through, to be refused by validate."""
    cursor.expect_word("BY")
    cursor.expect_punct("(")
    while not (cursor.current.kind == "punct" and cursor.current.text == ")"):
        if cursor.current.kind == "end":
            cursor.fail()
        cursor.take()
    cursor.take()
    cursor.accept_word("INCLUDE")
    options.once("PARTITION BY")


def _manifest(cursor: _Cursor, options: _Options, word: str) -> None:
    """MANIFEST [VERBOSE]."""
    options.once("MANIFEST")
    options.values["manifest"] = True
    if cursor.accept_word("VERBOSE"):
        options.values["manifest_verbose"] = True


def _verbose(cursor: _Cursor, options: _Options, word: str) -> None:
    """VERBOSE is a word of MANIFEST VERBOSE, never an option of its own."""
    raise UnloadError(SYNTAX_ERROR, "VERBOSE can only follow MANIFEST")


def _encrypted(cursor: _Cursor, options: _Options, word: str) -> None:
    """ENCRYPTED [AUTO]."""
    cursor.accept_word("AUTO")
    options.once("ENCRYPTED")


def _encryption_key(cursor: _Cursor, options: _Options, word: str) -> None:
    """KMS_KEY_ID 'key' or MASTER_SYMMETRIC_KEY 'key' (no AS); the key is not kept."""
    cursor.expect_string(word)
    options.once(word)


def _compression(cursor: _Cursor, options: _Options, word: str) -> None:
    """GZIP, BZIP2 or ZSTD: at most one of them."""
    values = options.values
    if "compression" in values:
        raise UnloadError(SYNTAX_ERROR, f"conflicting or redundant options: {values['compression']} and {word}")
    options.once(word)
    values["compression"] = word


def _parallel(cursor: _Cursor, options: _Options, word: str) -> None:
    """PARALLEL [ON | TRUE | OFF | FALSE]."""
    options.once("PARALLEL")
    setting = cursor.accept_word("ON", "TRUE", "OFF", "FALSE")
    options.values["parallel"] = setting in (None, "ON", "TRUE")


def _max_file_size(cursor: _Cursor, options: _Options, word: str) -> None:
    """MAXFILESIZE [AS] size [MB | GB], from 5 MB to 6.2 GB."""
    options.once("MAXFILESIZE")
    size = _parse_size(cursor, "MAXFILESIZE")
    if not MIN_FILE_SIZE <= size <= MAX_FILE_SIZE:
        raise UnloadError(INVALID, "MAXFILESIZE must be between 5 MB and 6.2 GB")
    options.values["max_file_size"] = size


def _row_group_size(cursor: _Cursor, options: _Options, word: str) -> None:
    """ROWGROUPSIZE [AS] size [MB | GB]: read, and not kept (PARQUET is refused)."""
    options.once("ROWGROUPSIZE")
    _parse_size(cursor, "ROWGROUPSIZE")


def _iam_role(cursor: _Cursor, options: _Options, word: str) -> None:
    """IAM_ROLE default | 'arn[,arn...]' (no AS)."""
    options.once("IAM_ROLE")
    if cursor.accept_word("DEFAULT"):
        options.auth["IAM_ROLE"] = "default"
    else:
        options.auth["IAM_ROLE"] = cursor.expect_string("IAM_ROLE")


def _auth_key(cursor: _Cursor, options: _Options, word: str) -> None:
    """ACCESS_KEY_ID, SECRET_ACCESS_KEY or SESSION_TOKEN [AS] 'value'."""
    options.auth[word] = _read_quoted(cursor, options, word)


def _credentials(cursor: _Cursor, options: _Options, word: str) -> None:
    """CREDENTIALS [AS] 'aws_access_key_id=..;...' or 'aws_iam_role=..'."""
    _parse_credentials_string(_read_quoted(cursor, options, "CREDENTIALS"), options.auth)


def _with_credentials(cursor: _Cursor, options: _Options, word: str) -> None:
    """WITH CREDENTIALS [AS] '...', the same as CREDENTIALS."""
    cursor.expect_word("CREDENTIALS")
    _credentials(cursor, options, "CREDENTIALS")


# Option word -> handler: one row per documented UNLOAD option word.
_OPTION_HANDLERS: dict[str, _Handler] = {
    "FORMAT": _format_as,
    "CSV": _format_word,
    "PARQUET": _format_word,
    "JSON": _format_word,
    "PARTITION": _partition_by,
    "MANIFEST": _manifest,
    "VERBOSE": _verbose,
    "HEADER": _flag("HEADER", "header"),
    "DELIMITER": _quoted("DELIMITER", "delimiter", _single_ascii),
    "FIXEDWIDTH": _quoted("FIXEDWIDTH", "fixedwidth", _parse_fixedwidth),
    "ENCRYPTED": _encrypted,
    "KMS_KEY_ID": _encryption_key,
    "MASTER_SYMMETRIC_KEY": _encryption_key,
    **{name: _compression for name in COMPRESSIONS},
    "ADDQUOTES": _flag("ADDQUOTES", "addquotes"),
    "NULL": _quoted("NULL AS", "null_as"),
    "ESCAPE": _flag("ESCAPE", "escape"),
    "ALLOWOVERWRITE": _flag("ALLOWOVERWRITE", "allowoverwrite"),
    "CLEANPATH": _flag("CLEANPATH", "cleanpath"),
    "PARALLEL": _parallel,
    "MAXFILESIZE": _max_file_size,
    "ROWGROUPSIZE": _row_group_size,
    "REGION": _quoted("REGION", "region", _region_name),
    "EXTENSION": _quoted("EXTENSION", "extension"),
    "IAM_ROLE": _iam_role,
    "ACCESS_KEY_ID": _auth_key,
    "SECRET_ACCESS_KEY": _auth_key,
    "SESSION_TOKEN": _auth_key,
    "CREDENTIALS": _credentials,
    "WITH": _with_credentials,
}


# ---------------------------------------------------------------- rules

# (format, options it cannot be combined with), from the FORMAT parameter's documentation
_FORMAT_EXCLUSIONS = {
    "CSV": ("FIXEDWIDTH", "ESCAPE"),
    "PARQUET": ("DELIMITER", "FIXEDWIDTH", "ADDQUOTES", "ESCAPE", "NULL AS", "HEADER", "GZIP", "BZIP2", "ZSTD"),
    "JSON": ("DELIMITER", "HEADER", "FIXEDWIDTH", "ADDQUOTES", "ESCAPE", "NULL AS"),
}
_PAIR_EXCLUSIONS = (
    ("FIXEDWIDTH", "DELIMITER"),
    ("FIXEDWIDTH", "HEADER"),
    ("ALLOWOVERWRITE", "CLEANPATH"),
    ("KMS_KEY_ID", "CREDENTIALS"),
    ("MASTER_SYMMETRIC_KEY", "CREDENTIALS"),
)


def validate(command: UnloadCommand) -> None:
    given = command.given
    if command.format == "CSV" and "ADDQUOTES" in given:
        raise UnloadError(INVALID, "ADDQUOTES is not supported for UNLOAD to CSV")
    for option in _FORMAT_EXCLUSIONS.get(command.format, ()):
        if option in given:
            raise UnloadError(INVALID, f"{option} cannot be used with FORMAT {command.format}")
    for first, second in _PAIR_EXCLUSIONS:
        if first in given and second in given:
            raise UnloadError(INVALID, f"{first} cannot be used with {second}")
    for key_option in ("KMS_KEY_ID", "MASTER_SYMMETRIC_KEY"):
        if key_option in given and "ENCRYPTED" not in given:
            raise UnloadError(INVALID, f"{key_option} requires ENCRYPTED")
    if "ROWGROUPSIZE" in given and command.format != "PARQUET":
        raise UnloadError(INVALID, "ROWGROUPSIZE can only be used with FORMAT PARQUET")
    role = command.credentials.iam_role
    if role and role != "default":
        for arn in role.split(","):
            if not _ROLE_ARN.match(arn.strip()):
                raise UnloadError(INVALID, f"invalid IAM_ROLE '{arn.strip()}': expected "
                                             "'arn:aws:iam::<account-id>:role/<role-name>'")
    if has_outer_limit(command.query):
        raise UnloadError(UNSUPPORTED, "Limit clause is not supported in the outer SELECT of an UNLOAD query; "
                                       "use a nested LIMIT")
    for option, what in (("PARQUET", "FORMAT PARQUET"), ("JSON", "FORMAT JSON")):
        if command.format == option:
            raise UnloadError(UNSUPPORTED, f"{what} is not supported by the Redshift emulator's UNLOAD")
    if "FIXEDWIDTH" in given and ({"ADDQUOTES", "ESCAPE"} & given):
        raise UnloadError(UNSUPPORTED, "ADDQUOTES and ESCAPE with FIXEDWIDTH are not supported by the Redshift "
                                       "emulator's UNLOAD")
    for option in ("ENCRYPTED", "PARTITION BY", "KMS_KEY_ID", "MASTER_SYMMETRIC_KEY"):
        if option in given:
            raise UnloadError(UNSUPPORTED, f"{option} is not supported by the Redshift emulator's UNLOAD")


def role_account(arn: str) -> str | None:
    match = _ROLE_ARN.match(arn.strip())
    return match.group(1) if match else None


def has_outer_limit(query: str) -> bool:
    """True when LIMIT appears at parenthesis depth 0 of the query, outside literals and comments."""
    depth = 0
    i = 0
    while i < len(query):
        ch = query[i]
        if ch in "'\"":
            end = query.find(ch, i + 1)
            while end >= 0 and query.startswith(ch * 2, end):
                end = query.find(ch, end + 2)
            i = len(query) if end < 0 else end + 1
            continue
        if query.startswith("--", i) or query.startswith("/*", i):
            i = _skip_space_and_comments(query, i)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and (ch in "lL") and re.match(r"limit\b", query[i:i + 6], re.I) and (
                i == 0 or not (query[i - 1].isalnum() or query[i - 1] in "_$")):
            return True
        i += 1
    return False
