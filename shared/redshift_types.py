"""Redshift column types, in one module: what each becomes in PostgreSQL (`TYPES`), how UNLOAD must select it so
that PostgreSQL's COPY reads it back exactly (`UNLOAD_WRAPPERS`), and how a load of it is verified
(`CHECKSUM_KINDS`).

Redshift spells a type many ways (`int4`, `dec(18,2)`, `text`, `character varying(256)`); `parse_type` reduces
every spelling to a canonical base plus parameters, and `TYPES` says, per canonical base, the PostgreSQL type,
the expression rewrite_ddl writes into the plan and what changed. Extend by adding entries, not `if`s (sqlglot's
TYPE_MAPPING habit).

In UNLOAD's text format most types come out in a form COPY reads as they are (booleans t/f, TIMESTAMPTZ with
+00), so rewrite_ddl selects the bare column. Three do not, and table_transfer wraps them when the plan selects
the bare column (`UNLOAD_WRAPPERS`):
- SUPER is written as JSON, untouched by ESCAPE, and its NULL as JSON `null` whatever NULL AS says
  (https://docs.aws.amazon.com/redshift/latest/dg/unload-super-csv.html); JSON_SERIALIZE makes it VARCHAR, which
  ESCAPE and NULL AS apply to (https://docs.aws.amazon.com/redshift/latest/dg/JSON_SERIALIZE.html).
- VARBYTE is written as hex without PostgreSQL's `\\x` prefix, which bytea would read as escape-format text
  (https://docs.aws.amazon.com/redshift/latest/dg/r_VARBYTE_type.html,
  https://www.postgresql.org/docs/16/datatype-binary.html).
- GEOMETRY/GEOGRAPHY kept as bytea go through ST_AsHexEWKB, since TO_HEX takes only numbers and VARBYTE
  (https://docs.aws.amazon.com/redshift/latest/dg/r_TO_HEX.html,
  https://docs.aws.amazon.com/redshift/latest/dg/ST_AsHexEWKB-function.html); into PostGIS they go bare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALIASES: dict[str, str] = {
    "int2": "smallint", "smallint": "smallint",
    "int": "integer", "int4": "integer", "integer": "integer",
    "int8": "bigint", "bigint": "bigint",
    "float4": "real", "real": "real",
    "float": "double precision", "float8": "double precision", "double precision": "double precision",
    "bool": "boolean", "boolean": "boolean",
    "decimal": "numeric", "dec": "numeric", "numeric": "numeric",
    "char": "character", "character": "character", "nchar": "character", "bpchar": "bpchar",
    "varchar": "character varying", "character varying": "character varying", "nvarchar": "character varying",
    "text": "text",
    "date": "date",
    "time": "time without time zone", "time without time zone": "time without time zone",
    "timetz": "time with time zone", "time with time zone": "time with time zone",
    "timestamp": "timestamp without time zone", "timestamp without time zone": "timestamp without time zone",
    "timestamptz": "timestamp with time zone", "timestamp with time zone": "timestamp with time zone",
    "varbyte": "varbyte", "varbinary": "varbyte", "binary varying": "varbyte",
    "super": "super", "geometry": "geometry", "geography": "geography", "hllsketch": "hllsketch",
    "interval": "interval", "interval year to month": "interval year to month",
    "interval day to second": "interval day to second",
}

MAX_VARCHAR_BYTES = 65535


@dataclass(frozen=True)
class TypeRule:
    """`target` is a format string over the parsed parameters (n, p, s); `unsupported` a reason when set."""

    target: str
    default_params: tuple[int, ...] = ()
    change: str | None = None  # a note for the report whenever this rule applies
    postgis_target: str | None = None  # used instead of `target` when the target has PostGIS
    unload: str = "{column}"
    unsupported: str | None = None


_SAME = "{canonical}"
TYPES: dict[str, TypeRule] = {
    "smallint": TypeRule(_SAME), "integer": TypeRule(_SAME), "bigint": TypeRule(_SAME),
    "real": TypeRule(_SAME), "double precision": TypeRule(_SAME), "boolean": TypeRule(_SAME),
    "date": TypeRule(_SAME),
    "time without time zone": TypeRule(_SAME), "time with time zone": TypeRule(_SAME),
    "timestamp without time zone": TypeRule(_SAME), "timestamp with time zone": TypeRule(_SAME),
    "numeric": TypeRule("numeric({p},{s})", (18, 0)),
    "character": TypeRule("char({n})", (1,)),
    "bpchar": TypeRule("char({n})", (256,)),
    "character varying": TypeRule("varchar({n})", (256,)),
    "text": TypeRule("varchar({n})", (256,), change="TEXT -> varchar(256) (Redshift's TEXT is VARCHAR(256))"),
    "varbyte": TypeRule("bytea", (65000,), change="VARBYTE -> bytea (length not enforced)"),
    "super": TypeRule("jsonb", change="SUPER -> jsonb"),
    "geometry": TypeRule("bytea", change="GEOMETRY -> bytea (EWKB; the target has no PostGIS)",
                         postgis_target="geometry"),
    "geography": TypeRule("bytea", change="GEOGRAPHY -> bytea (EWKB; the target has no PostGIS)",
                          postgis_target="geography"),
    "interval": TypeRule(_SAME),
    "interval year to month": TypeRule("interval year to month"),
    "interval day to second": TypeRule("interval day to second"),
    "hllsketch": TypeRule("", unsupported="HLLSKETCH has no PostgreSQL equivalent"),
}

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
    unload_template: str  # "{column}" stands for the quoted column name
    changes: tuple[str, ...] = ()
    unsupported: str | None = None

    def unload_expression(self, quoted_column: str) -> str:
        return self.unload_template.replace("{column}", quoted_column)


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
        return MappedType(parsed.text, None, rule.unload, (), rule.unsupported)
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
    return MappedType(parsed.text, target, rule.unload, tuple(changes))


def sql_type_name(text: str, *, postgis: bool = False) -> str | None:
    """For casts inside expressions: the PostgreSQL spelling of a Redshift type, None when unknown."""
    try:
        return map_type(text, postgis=postgis).target
    except UnknownTypeError:
        return None


# PostgreSQL target type -> the select UNLOAD needs (see the module docstring); keyed by the plan's target type.
UNLOAD_WRAPPERS: dict[str, str] = {
    "jsonb": "JSON_SERIALIZE({column})",
    "json": "JSON_SERIALIZE({column})",
    "bytea": "'\\\\x' || TO_HEX({column})",
}
SPATIAL_BYTEA_WRAPPER = "'\\\\x' || ST_AsHexEWKB({column})"
SPATIAL_TYPES = frozenset({"geometry", "geography"})
# Every select-list form rewrite_ddl can write for a column (the type rules' templates) and the wrappers above.
UNLOAD_TEMPLATES = frozenset({rule.unload for rule in TYPES.values()} | set(UNLOAD_WRAPPERS.values())
                             | {SPATIAL_BYTEA_WRAPPER})

# PostgreSQL target type prefix -> the aggregates beyond a non-null count that Redshift and PostgreSQL compute
# identically for it (first match wins, so longer prefixes come first); floats, JSON, bytes and intervals have none.
CHECKSUM_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("smallint", ("min", "max", "sum")), ("integer", ("min", "max", "sum")), ("bigint", ("min", "max")),
    ("numeric", ("min", "max")), ("date", ("min", "max")), ("timestamp", ("min", "max")),
    ("time without", ("min", "max")), ("boolean", ("true",)),
    ("character varying", ("length", "md5")), ("varchar", ("length", "md5")),
    ("character", ("length",)), ("char", ("length",)),
)

INTEGER_TARGETS = ("smallint", "integer", "bigint")  # PostgreSQL types an identity column can have


def checksum_kinds(target_type: str | None) -> tuple[str, ...]:
    lowered = (target_type or "").lower()
    return next((kinds for prefix, kinds in CHECKSUM_KINDS if lowered.startswith(prefix)), ())
