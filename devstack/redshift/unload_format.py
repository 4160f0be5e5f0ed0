"""Turn backend rows (PostgreSQL text output per column) into UNLOAD text or CSV lines, as Redshift writes them.

Values arrive as PostgreSQL's text output (session TimeZone UTC, DateStyle ISO), so most types already read
like Redshift's; the differences are TIMETZ (shown in UTC), VARBYTE (bytea, written as lowercase hex without
PostgreSQL's \\x), GEOMETRY and GEOGRAPHY (bytea too, their EWKB written as uppercase hex) and SUPER (jsonb, written
as compact JSON, a NULL as `null` whatever NULL AS says).

Hex case: AWS's UNLOAD page says only "the hexadecimal form of the extended well-known binary (EWKB) format"
(https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html#unload-usage-geometry). Its spatial pages print EWKB
in upper case: ST_AsHexEWKB uses "ASCII hexadecimal characters (0-9, A-F)"
(https://docs.aws.amazon.com/redshift/latest/dg/ST_AsHexEWKB-function.html) and ST_AsEWKB's example reads
`0103000020E6100000...` (https://docs.aws.amazon.com/redshift/latest/dg/ST_AsEWKB-function.html). VARBYTE prints in
lower case: TO_VARBYTE('01001101', 'binary') is `4d` (https://docs.aws.amazon.com/redshift/latest/dg/r_TO_VARBYTE.html).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from devstack.redshift.unload_errors import INTERNAL, UnloadError
from devstack.redshift.unload_grammar import UnloadCommand

BOOL, BYTEA, CHAR, NAME, TEXT, BPCHAR, VARCHAR = 16, 17, 18, 19, 25, 1042, 1043
JSON, JSONB, UNKNOWN, TIMETZ = 114, 3802, 705, 1266
# Not a PostgreSQL OID (those are positive): a bytea result column the UNLOAD found to be a GEOMETRY or GEOGRAPHY
# table column. The backend describes those domains by their base type, bytea, like VARBYTE.
EWKB = -17
BINARY_TYPES = frozenset({BYTEA, EWKB})
# ESCAPE applies to CHAR and VARCHAR values only (and to the header line).
CHARACTER_TYPES = frozenset({CHAR, NAME, TEXT, BPCHAR, VARCHAR, UNKNOWN})
SUPER_TYPES = frozenset({JSON, JSONB})

Formatter = Callable[[Any], str]


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _bytea_hex(value: Any) -> str:
    text = _as_text(value)
    return text[2:] if text.startswith("\\x") else text


def _ewkb_hex(value: Any) -> str:
    return _bytea_hex(value).upper()


def compact_json(text: str) -> str:
    """PostgreSQL prints jsonb with ', ' and ': '; Redshift's SUPER serialization has no blanks."""
    if not isinstance(text, str):
        text = _as_text(text)
    out: list[str] = []
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch not in " \t\n\r":
            out.append(ch)
    return "".join(out)


_TIMETZ = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(\.\d+)?([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?$")


def timetz_utc(value: Any) -> str:
    """Redshift keeps TIMETZ in UTC and prints '+00'; PostgreSQL prints the offset it was given."""
    text = _as_text(value)
    match = _TIMETZ.match(text)
    if not match or not any(int(part or 0) for part in match.group(6, 7, 8)):
        return text
    hours, minutes, seconds = (int(part) for part in match.group(1, 2, 3))
    offset = int(match.group(6)) * 3600 + int(match.group(7) or 0) * 60 + int(match.group(8) or 0)
    utc = (hours * 3600 + minutes * 60 + seconds - (offset if match.group(5) == "+" else -offset)) % 86400
    return f"{utc // 3600:02d}:{utc % 3600 // 60:02d}:{utc % 60:02d}{match.group(4) or ''}+00"


def _value_converter(type_oid: int) -> Callable[[Any], str]:
    if type_oid == BYTEA:
        return _bytea_hex
    if type_oid == EWKB:
        return _ewkb_hex
    if type_oid == TIMETZ:
        return timetz_utc
    if type_oid in SUPER_TYPES:
        return compact_json
    return _as_text


class _NotText(Exception):
    """A batch the column-wise path cannot format exactly; format_batch then goes row by row."""


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _nul_joined(texts) -> str:
    """PostgreSQL text never holds NUL, so NUL can join a column's values and split them apart again."""
    joined = "\0".join(texts)
    if joined.count("\0") != len(texts) - 1:
        raise _NotText
    return joined


def _escape_all(texts, specials: list[str]):
    """str.translate({c: "\\" + c}) of every value, done on the NUL-joined column (backslash first)."""
    joined = _nul_joined(texts)
    if not any(ch in joined for ch in specials):
        return texts
    for ch in specials:      # specials[0] is the backslash: the ones added after it are not escaped again
        if ch in joined:
            joined = joined.replace(ch, "\\" + ch)
    return joined.split("\0")


class LineFormatter:
    """format_row(row) -> one line including its newline; header() -> the header line."""

    def __init__(self, command: UnloadCommand, column_names: Sequence[str], type_oids: Sequence[int],
                 escape_null_as: bool = False):
        self.command = command
        self.delimiter = command.field_delimiter
        self.column_names = list(column_names)
        self.escape_null_as = escape_null_as
        self._null_text = command.null_as if command.null_as is not None else ""
        if command.fixedwidth is not None:
            self.delimiter = ""
            self._columns = self._fixed_width_formatters(command.fixedwidth, type_oids)
        else:
            self._columns = [self._column_formatter(oid) for oid in type_oids]
        # Most columns need no conversion: then a row of str/None joins directly (the core delivers text).
        self._plain = (command.format != "CSV" and not command.escape and not command.addquotes
                       and command.fixedwidth is None
                       and all(oid not in SUPER_TYPES and oid not in BINARY_TYPES and oid != TIMETZ for oid in type_oids))
        self._column_batches = (None if command.fixedwidth is not None
                                else [self._column_batch(oid) for oid in type_oids])

    # -- per column
    def _column_formatter(self, type_oid: int) -> Formatter:
        convert = _value_converter(type_oid)
        null_text = self._null_field(type_oid)
        if self.command.format == "CSV":
            quote = self._csv_quote

            def csv_field(value: Any) -> str:
                return null_text if value is None else quote(convert(value))
            return csv_field
        escape = self._escaper() if (self.command.escape and type_oid in CHARACTER_TYPES) else None
        addquotes = self.command.addquotes
        if escape is None and not addquotes:
            def plain(value: Any) -> str:
                return null_text if value is None else convert(value)
            return plain

        def text_field(value: Any) -> str:
            if value is None:
                text = null_text
            else:
                text = convert(value)
                if escape is not None:
                    text = text.translate(escape)
            return f'"{text}"' if addquotes else text
        return text_field

    def _null_field(self, type_oid: int) -> str:
        """A NULL's field: JSON `null` for SUPER (AWS: SUPER is exported as JSON, ignoring NULL AS), else the
        NULL AS string or ''. With `escape_null_as` (faults.FaultPlan) that string is written as a value of any
        column would be: ESCAPE applied to it, or CSV quoting."""
        if type_oid in SUPER_TYPES:
            return "null"
        if not self.escape_null_as:
            return self._null_text
        if self.command.format == "CSV":
            return self._csv_quote(self._null_text)
        if self.command.escape:
            return self._null_text.translate(self._escaper())
        return self._null_text

    def _fixed_width_formatters(self, widths: Sequence[int], type_oids: Sequence[int]) -> list[Formatter]:
        """Values left-aligned and blank-padded, never truncated; NULL is blanks unless NULL AS fits."""
        if len(widths) != len(type_oids):
            raise UnloadError(INTERNAL, f"FIXEDWIDTH specification has {len(widths)} column(s) but the query "
                                        f"returns {len(type_oids)}")
        return [self._fixed_width_formatter(name, width, oid)
                for name, width, oid in zip(self.column_names, widths, type_oids, strict=True)]

    def _fixed_width_formatter(self, name: str, width: int, type_oid: int) -> Formatter:
        if type_oid in BINARY_TYPES:
            raise UnloadError(INTERNAL, f"column \"{name}\": VARBYTE and GEOMETRY values cannot be unloaded "
                                        "with FIXEDWIDTH")
        convert = _value_converter(type_oid)
        null_as = "null" if type_oid in SUPER_TYPES else self.command.null_as
        if null_as is None or len(null_as) <= width:
            null_text = (null_as or "").ljust(width)
        elif type_oid in CHARACTER_TYPES:
            raise UnloadError(INTERNAL, f"NULL AS '{null_as}' is longer than the FIXEDWIDTH width {width} of "
                                        f"character column \"{name}\"")
        else:
            null_text = " " * width

        def fixed(value: Any) -> str:
            if value is None:
                return null_text
            text = convert(value)
            if len(text) > width:
                raise UnloadError(INTERNAL, f"value of column \"{name}\" is {len(text)} characters, longer than "
                                            f"its FIXEDWIDTH width {width}")
            return text.ljust(width)
        return fixed

    def _escaper(self) -> dict[int, str]:
        specials = ["\\", "\n", "\r", self.delimiter]
        if self.command.addquotes:
            specials += ['"', "'"]
        return {ord(ch): "\\" + ch for ch in specials}

    def _csv_quote(self, text: str) -> str:
        if self.delimiter in text or '"' in text or "\n" in text or "\r" in text:
            return '"' + text.replace('"', '""') + '"'
        return text

    # -- whole columns of a batch at once (same text as the per-value formatters, far fewer Python calls)
    def _column_batch(self, type_oid: int) -> Callable[[tuple], list | tuple]:
        """values of one column (a tuple) -> their field texts; raises _NotText to take the per-row path."""
        convert = _value_converter(type_oid)
        null_text = self._null_field(type_oid)
        csv = self.command.format == "CSV"
        escape = self.command.escape and not csv and type_oid in CHARACTER_TYPES
        specials = _unique(["\\", "\n", "\r", self.delimiter] + (['"', "'"] if self.command.addquotes else []))
        if escape and "\0" in specials:
            escape = False
            convert = None      # a NUL delimiter cannot use the NUL-joined column below
        csv_specials = [self.delimiter, '"', "\n", "\r"]
        quote = self._csv_quote

        def column(values: tuple) -> list | tuple:
            if convert is None:
                raise _NotText
            has_null = None in values
            if convert is _as_text:
                texts = [v if v is not None else "" for v in values] if has_null else values
            else:
                texts = [convert(v) if v is not None else "" for v in values]
            if escape:
                texts = _escape_all(texts, specials)
            elif csv:
                joined = _nul_joined(texts)
                if any(ch in joined for ch in csv_specials):
                    texts = [quote(text) for text in texts]
            if has_null:
                texts = [null_text if v is None else text for v, text in zip(values, texts, strict=True)]
            return texts
        return column

    def format_batch(self, rows: Sequence[Sequence[Any]]) -> tuple[list[str], Exception | None]:
        """Lines of `rows` without their newlines (line + "\\n" == format_row(row)), and the error of the first
        row that cannot be formatted (the lines before it are returned), like format_row row by row."""
        if not rows:
            return [], None
        try:
            return self._fast_batch(rows), None
        except Exception:       # noqa: BLE001 - a value that is not text, a row of another length, FIXEDWIDTH...
            pass                # ...: row by row, as format_row does, which also finds the first failing row
        lines: list[str] = []
        for row in rows:
            try:
                lines.append(self.format_row(row)[:-1])
            except Exception as exc:    # noqa: BLE001 - handed back to the caller to raise after the lines before it
                return lines, exc
        return lines, None

    def _fast_batch(self, rows: Sequence[Sequence[Any]]) -> list[str]:
        width = len(self._columns)
        if set(map(len, rows)) != {width} or self._column_batches is None:
            raise _NotText
        join = self.delimiter.join
        if self._plain:
            null = self._null_text
            return [join(row) if None not in row else join([null if v is None else v for v in row])
                    for row in rows]
        columns = [batch(values) for batch, values in zip(self._column_batches, zip(*rows, strict=True), strict=True)]
        if self.command.addquotes and self.command.format != "CSV":
            join = ('"' + self.delimiter + '"').join
            return ['"' + line + '"' for line in map(join, zip(*columns, strict=True))]
        return list(map(join, zip(*columns, strict=True)))

    # -- lines
    def format_row(self, row: Sequence[Any]) -> str:
        if self._plain and len(row) == len(self._columns):
            null = self._null_text
            try:
                return self.delimiter.join([null if value is None else value for value in row]) + "\n"
            except TypeError:   # a value that is not text: take the general path
                pass
        return self.delimiter.join([fmt(value) for fmt, value in zip(self._columns, row, strict=True)]) + "\n"

    def header(self) -> str:
        if self.command.format == "CSV":
            fields = [self._csv_quote(name) for name in self.column_names]
        else:
            escape = self._escaper() if self.command.escape else None
            fields = [name.translate(escape) if escape else name for name in self.column_names]
            if self.command.addquotes:
                fields = [f'"{name}"' for name in fields]
        return self.delimiter.join(fields) + "\n"
