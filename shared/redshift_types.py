"""Redshift column types, in one table keyed by Redshift type (`TYPES`): per type, its spellings, the PostgreSQL
type rewrite_ddl gives it, the expression UNLOAD selects so that PostgreSQL's COPY reads the value back exactly,
how COPY reads it, and the aggregates verification compares on both sides (`CHECKSUMS`). Extend by adding rows,
not `if`s (sqlglot's TYPE_MAPPING habit); rewrite_ddl, table_transfer's plan and its verification all read it.

Redshift spells a type many ways (`int4`, `dec(18,2)`, `text`, `character varying(256)`); `parse_type` reduces
every spelling to a row key plus parameters.

UNLOAD's text format writes most types in a form COPY reads as it is (booleans t/f, TIMESTAMPTZ with +00), so those
rows select the bare column. Three do not, and their rows select an expression instead:
- SUPER is written as JSON, untouched by ESCAPE, and its NULL as JSON `null` whatever NULL AS says
  (https://docs.aws.amazon.com/redshift/latest/dg/unload-super.html); JSON_SERIALIZE makes it VARCHAR, which
  ESCAPE and NULL AS apply to (https://docs.aws.amazon.com/redshift/latest/dg/JSON_SERIALIZE.html). That holds
  whatever the target type, so SUPER is selected through it into any target.
- VARBYTE is written as hex without PostgreSQL's `\\x` prefix, which bytea would read as escape-format text
  (https://docs.aws.amazon.com/redshift/latest/dg/r_VARBYTE_type.html,
  https://www.postgresql.org/docs/16/datatype-binary.html); into bytea it goes as `'\\x' || TO_HEX(col)`.
- GEOMETRY/GEOGRAPHY kept as bytea go through ST_AsHexEWKB, since TO_HEX takes only numbers and VARBYTE
  (https://docs.aws.amazon.com/redshift/latest/dg/r_TO_HEX.html,
  https://docs.aws.amazon.com/redshift/latest/dg/ST_AsHexEWKB-function.html); into PostGIS they go bare.
tables.json names the bare column; table_transfer selects it through `unload_select`, so a plan keeps working when
a row's expression changes, and a type forced by the overrides file is selected as its Redshift type needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_VARCHAR_BYTES = 65535
BARE = "{column}"  # the column itself; "{column}" stands for the quoted column name in every template


@dataclass(frozen=True)
class Unload:
    """What UNLOAD selects for a column: `select` into a target whose base type is in `targets` (every target when
    None), else the bare column."""

    select: str = BARE
    targets: frozenset[str] | None = None

    def for_target(self, target_type: str | None) -> str:
        if self.targets is None or _base(target_type) in self.targets:
            return self.select
        return BARE


@dataclass(frozen=True)
class Checksum:
    """One aggregate both sides compute to the same value: Redshift's and PostgreSQL's spelling of it."""

    redshift: str
    postgres: str


# kind -> the aggregate on each side; {c} is the quoted column. A row lists the kinds that are equal for its type.
CHECKSUMS: dict[str, Checksum] = {
    "nonnull": Checksum("COUNT({c})", "COUNT({c})"),
    "min": Checksum("MIN({c})", "MIN({c})"),
    "max": Checksum("MAX({c})", "MAX({c})"),
    "sum": Checksum("SUM(CAST({c} AS BIGINT))", "SUM(CAST({c} AS BIGINT))"),
    "true": Checksum("SUM(CASE WHEN {c} THEN 1 ELSE 0 END)", "SUM(CASE WHEN {c} THEN 1 ELSE 0 END)"),
    "length": Checksum("SUM(LENGTH({c}))", "SUM(LENGTH({c}))"),
    # the first 32 bits of each value's MD5, summed: order-independent, so neither side sorts
    "md5": Checksum("SUM(STRTOL(LEFT(MD5({c}), 8), 16))",
                    "SUM(CAST(CAST('x' || LEFT(MD5({c}), 8) AS BIT(32)) AS BIGINT))"),
}


@dataclass(frozen=True)
class TypeRule:
    """One Redshift type. `target` is a format string over the parsed parameters (n, p, s, canonical)."""

    spellings: tuple[str, ...]  # every way Redshift (and format_type) writes it, lower case
    target: str
    docs: str  # the AWS page the facts of this row come from
    copy_reads: str  # what the unloaded text is when PostgreSQL's COPY reads it
    default_params: tuple[int, ...] = ()
    change: str | None = None  # a note for the report whenever this rule applies
    postgis_target: str | None = None  # used instead of `target` when the target has PostGIS
    unload: Unload = Unload()
    checksums: tuple[str, ...] = ()  # kinds of CHECKSUMS beyond the non-null count
    integer: bool = False  # an integer type: a PostgreSQL identity column may have it
    unsupported: str | None = None


_SAME = "{canonical}"
_NUMERIC = "https://docs.aws.amazon.com/redshift/latest/dg/r_Numeric_types201.html"
_CHARACTER = "https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html"
_DATETIME = "https://docs.aws.amazon.com/redshift/latest/dg/r_Datetime_types.html"
_INTERVAL = "https://docs.aws.amazon.com/redshift/latest/dg/r_interval_data_types.html"
_SPATIAL = "https://docs.aws.amazon.com/redshift/latest/dg/ST_AsHexEWKB-function.html"
_LITERAL = "its text literal"
# year_to_month_qualifier and day_to_second_qualifier (_INTERVAL); PostgreSQL has the same interval fields.
INTERVAL_QUALIFIERS = ("year", "month", "year to month", "day", "hour", "minute", "second", "day to hour",
                       "day to minute", "day to second", "hour to minute", "hour to second", "minute to second")
_SPATIAL_UNLOAD = Unload("'\\\\x' || ST_AsHexEWKB({column})", frozenset({"bytea"}))

# Aggregates beyond the non-null count are listed only where both sides compute them alike: min/max for numbers,
# dates and times (sum too for the narrow integers), the number of true booleans, and for character columns the
# total length (and for VARCHAR an MD5 sum). Floats, JSON, bytes, TIMETZ and intervals have none (their text forms
# or orderings differ).
TYPES: dict[str, TypeRule] = {
    "smallint": TypeRule(("smallint", "int2"), _SAME, _NUMERIC, _LITERAL, checksums=("min", "max", "sum"),
                         integer=True),
    "integer": TypeRule(("integer", "int", "int4"), _SAME, _NUMERIC, _LITERAL, checksums=("min", "max", "sum"),
                        integer=True),
    "bigint": TypeRule(("bigint", "int8"), _SAME, _NUMERIC, _LITERAL, checksums=("min", "max"), integer=True),
    "numeric": TypeRule(("numeric", "decimal", "dec"), "numeric({p},{s})", _NUMERIC, _LITERAL, (18, 0),
                        checksums=("min", "max")),
    "real": TypeRule(("real", "float4"), _SAME, _NUMERIC, _LITERAL),
    "double precision": TypeRule(("double precision", "float8", "float"), _SAME, _NUMERIC, _LITERAL),
    "boolean": TypeRule(("boolean", "bool"), _SAME, "https://docs.aws.amazon.com/redshift/latest/dg/r_Boolean_type.html",
                        "t or f", checksums=("true",)),
    "character": TypeRule(("character", "char", "nchar"), "char({n})", _CHARACTER, "the blank-padded text", (1,),
                          checksums=("length",)),
    "bpchar": TypeRule(("bpchar",), "char({n})", _CHARACTER, "the blank-padded text", (256,), checksums=("length",)),
    "character varying": TypeRule(("character varying", "varchar", "nvarchar"), "varchar({n})", _CHARACTER,
                                  "the text, ESCAPEd", (256,), checksums=("length", "md5")),
    "text": TypeRule(("text",), "varchar({n})", _CHARACTER, "the text, ESCAPEd", (256,),
                     change="TEXT -> varchar(256) (Redshift's TEXT is VARCHAR(256))", checksums=("length", "md5")),
    "date": TypeRule(("date",), _SAME, _DATETIME, "an ISO date", checksums=("min", "max")),
    "time without time zone": TypeRule(("time", "time without time zone"), _SAME, _DATETIME, "an ISO time",
                                       checksums=("min", "max")),
    "time with time zone": TypeRule(("timetz", "time with time zone"), _SAME, _DATETIME, "an ISO time with offset"),
    "timestamp without time zone": TypeRule(("timestamp", "timestamp without time zone"), _SAME, _DATETIME,
                                            "an ISO timestamp", checksums=("min", "max")),
    "timestamp with time zone": TypeRule(("timestamptz", "timestamp with time zone"), _SAME, _DATETIME,
                                         "an ISO timestamp with +00", checksums=("min", "max")),
    "interval": TypeRule(("interval",), _SAME, _INTERVAL, "PostgreSQL's interval text"),
    **{f"interval {fields}": TypeRule((f"interval {fields}",), f"interval {fields}", _INTERVAL,
                                      "PostgreSQL's interval text") for fields in INTERVAL_QUALIFIERS},
    "varbyte": TypeRule(("varbyte", "varbinary", "binary varying"), "bytea",
                        "https://docs.aws.amazon.com/redshift/latest/dg/r_VARBYTE_type.html",
                        "bytea's hex format (\\x and the bytes in hex)", (64000,),
                        change="VARBYTE -> bytea (length not enforced)",
                        unload=Unload("'\\\\x' || TO_HEX({column})", frozenset({"bytea"}))),
    "super": TypeRule(("super",), "jsonb", "https://docs.aws.amazon.com/redshift/latest/dg/unload-super.html",
                      "JSON text, ESCAPEd, NULL as the NULL AS marker", change="SUPER -> jsonb",
                      unload=Unload("JSON_SERIALIZE({column})")),
    "geometry": TypeRule(("geometry",), "bytea", _SPATIAL, "hex EWKB: bytea's hex format, or PostGIS's input",
                         change="GEOMETRY -> bytea (EWKB; the target has no PostGIS)", postgis_target="geometry",
                         unload=_SPATIAL_UNLOAD),
    "geography": TypeRule(("geography",), "bytea", _SPATIAL, "hex EWKB: bytea's hex format, or PostGIS's input",
                          change="GEOGRAPHY -> bytea (EWKB; the target has no PostGIS)", postgis_target="geography",
                          unload=_SPATIAL_UNLOAD),
    "hllsketch": TypeRule(("hllsketch",), "", "https://docs.aws.amazon.com/redshift/latest/dg/hyperloglog-functions-usage-notes.html",
                          "not carried", unsupported="HLLSKETCH has no PostgreSQL equivalent"),
}

ALIASES: dict[str, str] = {spelling: key for key, rule in TYPES.items() for spelling in rule.spellings}
# Each PostgreSQL type some row targets -> that row: the Redshift type a target type stands for when a plan
# entry names no (readable) source type. bytea stands for VARBYTE, the one row whose only target it is.
_BY_TARGET: dict[str, str] = {"jsonb": "super", "json": "super", "bytea": "varbyte"}

_TYPE_TEXT = re.compile(
    r"^(?P<base>[a-z][a-z0-9_ ]*?)\s*(?:\((?P<params>[^()]*)\))?\s*(?P<suffix>(?:with|without) time zone)?$")


@dataclass(frozen=True)
class RedshiftType:
    canonical: str  # a key of TYPES
    params: tuple[int, ...]  # as written (empty when bare)
    text: str  # the source spelling, normalized to lower case and single spaces


@dataclass(frozen=True)
class MappedType:
    source: str
    target: str | None  # None when unsupported
    changes: tuple[str, ...] = ()
    unsupported: str | None = None


class UnknownTypeError(ValueError):
    pass


def parse_type(text: str) -> RedshiftType:
    """Any Redshift spelling of a column type → canonical base and integer parameters."""
    normalized = " ".join(text.strip().lower().replace('"', "").split())
    match = _TYPE_TEXT.match(normalized)
    if not match:
        raise UnknownTypeError(f"unknown Redshift type {text!r}")
    base = match.group("base").strip()
    if match.group("suffix"):
        base = f"{base} {match.group('suffix')}"
    canonical = ALIASES.get(base)
    if canonical is None:
        raise UnknownTypeError(f"unknown Redshift type {text!r}")
    params: list[int] = []
    raw_params = match.group("params")
    if raw_params is not None and raw_params.strip():
        for part in raw_params.split(","):
            part = part.strip()
            if part == "max" and canonical in ("character varying", "text", "varbyte"):
                params.append(MAX_VARCHAR_BYTES)
            elif part.isdigit():
                params.append(int(part))
            else:
                raise UnknownTypeError(f"Redshift type {text!r} has a parameter that is not a number")
    return RedshiftType(canonical, tuple(params), normalized)


def map_type(text: str, *, postgis: bool = False) -> MappedType:
    """The PostgreSQL type for a Redshift column type, with the notes the rewrite report lists."""
    parsed = parse_type(text)
    rule = TYPES[parsed.canonical]
    if rule.unsupported:
        return MappedType(parsed.text, None, (), rule.unsupported)
    params = parsed.params or rule.default_params
    values = dict(zip(("n",), params, strict=False))
    if parsed.canonical == "numeric":
        precision = params[0]
        scale = params[1] if len(params) > 1 else 0
        values = {"p": precision, "s": scale}
    template = rule.postgis_target if postgis and rule.postgis_target else rule.target
    target = template.format(canonical=parsed.canonical, **values)
    changes = [rule.change] if rule.change and not (postgis and rule.postgis_target) else []
    if parsed.canonical in ("character varying", "character", "bpchar") and not parsed.params:
        changes.append(f"{parsed.text.upper()} -> {target} (Redshift's default length)")
    return MappedType(parsed.text, target, tuple(changes))


def sql_type_name(text: str, *, postgis: bool = False) -> str | None:
    """For casts inside expressions: the PostgreSQL spelling of a Redshift type, None when unknown."""
    try:
        return map_type(text, postgis=postgis).target
    except UnknownTypeError:
        return None


def _base(type_text: str | None) -> str:
    return re.sub(r"\s*\(.*$", "", (type_text or "").strip().lower())


def _rule(type_text: str | None) -> TypeRule | None:
    try:
        return TYPES[parse_type(type_text).canonical] if type_text else None
    except UnknownTypeError:
        return None


def _target_rule(target_type: str | None) -> TypeRule | None:
    """The row a PostgreSQL target type reads as: its own spelling when Redshift has it (varchar(10), bigint), else
    the row that targets it (jsonb, bytea)."""
    key = _BY_TARGET.get(_base(target_type))
    return TYPES[key] if key else _rule(target_type)


def unload_select(source_type: str | None, target_type: str | None) -> str:
    """The template UNLOAD selects for a column of `source_type` landing in `target_type` ("{column}" stands for
    the quoted column). A plan entry without a readable source type is taken to be of the type its target
    stands for."""
    rule = _rule(source_type) or _target_rule(target_type)
    return rule.unload.for_target(target_type) if rule else BARE


def checksum_kinds(source_type: str | None, target_type: str | None) -> tuple[str, ...]:
    """The CHECKSUMS kinds, beyond the non-null count, that are equal on both sides: the source type's that the
    target type has too (a type forced by the overrides file keeps only what both compute alike)."""
    target = _target_rule(target_type)
    source = _rule(source_type) or target
    if source is None or target is None:
        return ()
    return tuple(kind for kind in source.checksums if kind in target.checksums)


def identity_allowed(target_type: str | None) -> bool:
    """Whether a PostgreSQL column of `target_type` can be an identity column (integer types only)."""
    rule = _rule(target_type)
    return rule is not None and rule.integer


# Every select-list form UNLOAD may run for a column: the bare column and each row's expression.
UNLOAD_TEMPLATES = frozenset({BARE} | {rule.unload.select for rule in TYPES.values()})
