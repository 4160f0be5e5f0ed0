"""Redshift expressions and queries (view bodies, SQL UDF bodies, column defaults) → PostgreSQL, with sqlglot.

sqlglot's own redshift→postgres transpilation is right for most functions (NVL, NVL2, DECODE, CHARINDEX, LEN,
MEDIAN, CONVERT_TIMEZONE). Where it is not, a rewrite rule in `REWRITES` replaces the node: DATEDIFF counts
boundaries in Redshift (not elapsed units), LISTAGG's default delimiter is '' and its ORDER BY goes inside
string_agg, GETDATE/SYSDATE are timestamps without time zone, and a few functions need `r2a_compat` helpers.
SHA1/SHA/FUNC_SHA1 and CRC32 (CRC-32C) become r2a_compat functions; FNV_HASH, which hashes Redshift's internal
binary forms, is reported. Query shapes PostgreSQL lacks (QUALIFY, PIVOT/UNPIVOT, select-list alias reuse, SUPER
navigation) are rewritten first, by queries.py. `'a' + 'b'` is left alone: AWS documents `+` as addition only and `||`/CONCAT for strings
(https://docs.aws.amazon.com/redshift/latest/dg/r_compound_expressions.html).
Table references are mapped to their AlloyDB names; identifiers are always quoted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.dialects.redshift import Redshift

from shared.ddlsession import COMPAT_SCHEMA
from shared.identifiers import PG_MAX_IDENTIFIER_BYTES, TableRef, short_name
from shared.log import one_line
from shared.redshift_types import UnknownTypeError, map_type
from shared.sqltext import pg_literal
from steps.rewrite_ddl.pivots import rewrite_pivots
from steps.rewrite_ddl.queries import RelationColumns, Unsupported, no_relation_columns, rewrite_selects

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")  # there in AlloyDB too


class RedshiftSource(Redshift):
    """Redshift as our sources write it: GETDATE() stays distinguishable from CURRENT_TIMESTAMP."""

    class Parser(Redshift.Parser):
        FUNCTIONS = {**Redshift.Parser.FUNCTIONS,
                     "GETDATE": lambda args: exp.Anonymous(this="getdate", expressions=args)}


class PostgresTarget(Postgres):
    """PostgreSQL as r2a writes it: a string literal holding a line break or another control character is an
    E'…' escape string (shared.sqltext.pg_literal), so regenerated view, UDF and default text keeps one line per
    line for every reader of the SQL files."""

    class Generator(Postgres.Generator):
        def literal_sql(self, expression: exp.Literal) -> str:
            value = expression.this or ""
            if expression.is_string and "\x00" not in value and pg_literal(value).startswith("E'"):
                return pg_literal(value)
            return super().literal_sql(expression)


@dataclass
class Translation:
    sql: str | None  # None when the text could not be parsed
    changes: list[str] = field(default_factory=list)
    compat: set[str] = field(default_factory=set)  # r2a_compat function names used
    relations: set[TableRef] = field(default_factory=set)  # Redshift relations read (resolved)
    missing: set[TableRef] = field(default_factory=set)  # relations read that are not in the catalog
    unsupported: str | None = None


Resolver = Callable[[TableRef], TableRef | None]  # Redshift relation → AlloyDB relation (None: not ours)
ColumnLookup = Callable[[TableRef], dict[str, str]]


def _parse_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None) or []
    if errors:
        first = errors[0]
        description = re.sub(r"<Token token_type: [^,]*, text: (.*?), line: .*?>", r"'\1'",
                             str(first.get("description", "syntax error")))
        return f"{description} at line {first.get('line')}, column {first.get('col')}"
    return one_line(exc, 160) or type(exc).__name__


class _Context:
    def __init__(self, resolver: Resolver, columns: ColumnLookup, postgis: bool):
        self.resolver = resolver
        self.columns = columns
        self.postgis = postgis
        self.result = Translation(None)

    def note(self, change: str) -> None:
        if change not in self.result.changes:
            self.result.changes.append(change)


def _compat_call(ctx: _Context, name: str, args: list[exp.Expression], why: str) -> exp.Expression:
    ctx.result.compat.add(name)
    ctx.note(why)
    return exp.Dot(this=exp.to_identifier(COMPAT_SCHEMA), expression=exp.Anonymous(this=name, expressions=args))


def _as_timestamp(node: exp.Expression) -> exp.Expression:
    return exp.Cast(this=node, to=exp.DataType.build("timestamp"))


def _unit(node: exp.Expression) -> exp.Expression:
    unit = node.args.get("unit")
    text = unit.name if unit is not None else "day"
    return exp.Literal.string(text.lower())


# What r2a_compat.datediff/dateadd accept (sqlglot normalizes Redshift's abbreviations to these names).
DATE_PARTS = ("year", "quarter", "month", "week", "day", "hour", "minute", "second", "millisecond", "microsecond",
              "decade", "century", "millennium")


def _known_part(node, ctx, function: str) -> bool:
    part = _unit(node).name
    if part not in DATE_PARTS:
        ctx.result.unsupported = f"{function} with date part {part!r} has no r2a_compat equivalent"
        return False
    return True


def _datediff(node, ctx):
    # TsOrDsDiff(this=end, expression=start): DATEDIFF(part, start, end) counts part boundaries crossed.
    if not _known_part(node, ctx, "DATEDIFF"):
        return None
    return _compat_call(ctx, "datediff", [_unit(node), _as_timestamp(node.expression), _as_timestamp(node.this)],
                        "DATEDIFF -> r2a_compat.datediff (counts boundaries like Redshift)")


def _dateadd(node, ctx):
    if not _known_part(node, ctx, "DATEADD"):
        return None
    return _compat_call(ctx, "dateadd", [_unit(node), node.expression, _as_timestamp(node.this)],
                        "DATEADD -> r2a_compat.dateadd")


def _listagg(node, ctx):
    """LISTAGG([DISTINCT] x [, delimiter]) [WITHIN GROUP (ORDER BY …)] → string_agg(NULLIF(x::text, ''), delimiter
    ORDER BY …), or array_to_string(array_remove(array_agg(DISTINCT x ORDER BY x)::text[], ''), delimiter) for
    DISTINCT; Redshift's default delimiter is ''. A bare GroupConcat under WITHIN GROUP is left to its parent."""
    order = None
    if isinstance(node, exp.WithinGroup):
        order, node = node.expression, node.this
    elif isinstance(node.parent, exp.WithinGroup):
        return None
    if not isinstance(node, exp.GroupConcat):
        return None
    value, separator, distinct = node.this, node.args.get("separator"), False
    if isinstance(value, exp.Distinct):
        distinct, items = True, value.expressions
        value = items[0]
        if len(items) > 1 and separator is None:
            separator = items[1]
        if order is not None and all(item.this == value for item in order.expressions):
            # string_agg(DISTINCT x::text ORDER BY x::text) would sort 1178 before 380; array_agg keeps x's type.
            ctx.note("LISTAGG(DISTINCT …) -> array_to_string(array_agg(DISTINCT … ORDER BY …))")
            ordered = exp.Order(this=exp.Distinct(expressions=[value]), expressions=[i.copy() for i in order.expressions])
            as_texts = exp.Cast(this=exp.ArrayAgg(this=ordered), to=exp.DataType.build("text[]"))
            without_empty = exp.Anonymous(this="ARRAY_REMOVE", expressions=[as_texts, exp.Literal.string("")])
            return exp.ArrayToString(this=without_empty, expression=separator or exp.Literal.string(""))
        if order is not None:
            ctx.result.unsupported = "LISTAGG(DISTINCT x) ordered by another expression has no PostgreSQL equivalent"
            return None
        ctx.note("LISTAGG(DISTINCT …) -> string_agg(DISTINCT …)")
    # Redshift's LISTAGG ignores NULLs and empty strings; string_agg ignores only NULLs.
    as_text = exp.Nullif(this=exp.Cast(this=value, to=exp.DataType.build("text")), expression=exp.Literal.string(""))
    argument: exp.Expression = exp.Distinct(expressions=[as_text]) if distinct else as_text
    if order is not None:  # not DISTINCT here: that case returned above
        argument = exp.Order(this=argument, expressions=[item.copy() for item in order.expressions])
    ctx.note("LISTAGG -> string_agg")
    return exp.GroupConcat(this=argument, separator=separator or exp.Literal.string(""))


def _median_values(median: exp.Median) -> exp.ArrayAgg:
    return exp.ArrayAgg(this=exp.Cast(this=median.this, to=exp.DataType.build("numeric")))


def _median(node, ctx):
    """MEDIAN(x) → r2a_compat.median_of(array_agg(x::numeric)): DECIMAL as Redshift returns for numbers, exact
    where percentile_cont would go through double precision. Under OVER, _window rewrites it."""
    if isinstance(node.parent, exp.Window):
        return None
    return _compat_call(ctx, "median_of", [_median_values(node)], "MEDIAN -> r2a_compat.median_of(array_agg …)")


def _window(node, ctx):
    """PostgreSQL cannot run an ordered-set aggregate (MEDIAN's percentile_cont) or an aggregate with its own
    ORDER BY (LISTAGG … WITHIN GROUP) over a window. Redshift's OVER clause of these two holds only PARTITION BY,
    so the ordering can move into the window, over the whole partition."""
    if isinstance(node.this, exp.Median):
        values = exp.Window(this=_median_values(node.this), partition_by=node.args.get("partition_by"), over="OVER")
        return _compat_call(ctx, "median_of", [values], "MEDIAN … OVER -> r2a_compat.median_of(array_agg … OVER)")
    if isinstance(node.this, exp.Anonymous) and node.this.name.lower() == "ratio_to_report" \
            and len(node.this.expressions) == 1:
        # x / the sum of x over the partition, FLOAT8 (https://docs.aws.amazon.com/redshift/latest/dg/
        # r_WF_RATIO_TO_REPORT.html; its OVER holds PARTITION BY only); a zero sum gives NULL, not an error
        value = exp.Cast(this=node.this.expressions[0].copy(), to=exp.DataType.build("double"))
        total = exp.Window(this=exp.Sum(this=value.copy()), partition_by=node.args.get("partition_by"), over="OVER")
        ctx.note("RATIO_TO_REPORT -> x / SUM(x) OVER (…)")
        return exp.Paren(this=exp.Div(this=value, expression=exp.Nullif(this=total, expression=exp.Literal.number(0))))
    if isinstance(node.this, exp.Avg) and not isinstance(node.this.this, exp.Distinct):
        sample = node.copy()
        sample.set("this", exp.Min(this=node.this.this.copy()))
        return _avg_of(ctx, node.copy(), sample)
    if node.this.find(exp.Distinct) is not None:
        ctx.result.unsupported = "an aggregate with DISTINCT as a window function has no PostgreSQL equivalent"
        return None
    concat = node.this
    if not isinstance(concat, exp.GroupConcat) or not isinstance(concat.this, exp.Order):
        return None
    value = concat.this.this
    # value is already NULLIF(x::text, ''), and array_to_string skips NULLs, as Redshift's LISTAGG does.
    values = exp.Window(this=exp.ArrayAgg(this=value),
                        partition_by=node.args.get("partition_by"), order=exp.Order(expressions=concat.this.expressions),
                        spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="UNBOUNDED",
                                            end_side="FOLLOWING"), over="OVER")
    ctx.note("LISTAGG … WITHIN GROUP … OVER -> array_to_string(array_agg … OVER (… ORDER BY …))")
    return exp.ArrayToString(this=values, expression=concat.args.get("separator") or exp.Literal.string(""))


def _avg_of(ctx: _Context, average: exp.Expression, sample: exp.Expression) -> exp.Expression:
    return _compat_call(ctx, "avg_of", [average, sample],
                        "AVG -> r2a_compat.avg_of (an integer argument's average is a truncated BIGINT)")


def _avg(node, ctx):
    """AVG of an integer is a BIGINT on Redshift ("BIGINT for any integer type argument",
    https://docs.aws.amazon.com/redshift/latest/dg/r_AVG.html), truncated: r_WF_AVG's running average of WINSALES
    prints 16 for 50/3 and 22 for 90/4. PostgreSQL's is numeric. MIN of the same argument carries its type into
    r2a_compat.avg_of, whose overloads truncate for integers and pass other types through. Under OVER, _window
    rewrites it; inside FILTER (which Redshift does not have) it is left as it is."""
    if isinstance(node.parent, (exp.Window, exp.Filter)):
        return None
    value = node.this.expressions[0] if isinstance(node.this, exp.Distinct) else node.this
    return _avg_of(ctx, node.copy(), exp.Min(this=value.copy()))


# A time zone that is only a signed or bare number of hours ('+03:00', '-8'): CONVERT_TIMEZONE's page documents
# names, abbreviations and POSIX `STDoffset` (https://docs.aws.amazon.com/redshift/latest/dg/CONVERT_TIMEZONE.html,
# "Using POSIX-style format": the offset counts hours WEST of UTC, so 'GMT+2' is two hours behind UTC, as its
# example shows and PostgreSQL agrees), but not an offset without a name, which SET timezone reads the ISO-8601
# way (east, https://docs.aws.amazon.com/redshift/latest/dg/r_timezone_config.html) and PostgreSQL the POSIX way.
_BARE_OFFSET = re.compile(r"^\s*[+-]?\d")


def _convert_timezone(node, ctx):
    """sqlglot's form is right: the timestamp AT TIME ZONE source (UTC by default) AT TIME ZONE target. A TIMESTAMPTZ
    argument becomes a TIMESTAMP in the session's time zone first on both systems (the page's "expression that
    implicitly converts to a timestamp"); Redshift sessions run in UTC unless SET otherwise."""
    for key in ("source_tz", "target_tz"):
        zone = node.args.get(key)
        if isinstance(zone, exp.Literal) and zone.is_string and _BARE_OFFSET.match(zone.this):
            ctx.result.unsupported = (f"CONVERT_TIMEZONE to or from the offset {zone.this!r}: Redshift documents "
                                      "named zones and POSIX 'NAME+offset' only, so its sign is ambiguous")
    return None


def _sha2(node, ctx):
    """SHA2(string, bits): PostgreSQL's sha256() and friends take bytea; r2a_compat.sha2 hashes the UTF-8 text."""
    length = node.args.get("length") or exp.Literal.number(256)
    return _compat_call(ctx, "sha2", [node.this, length], "SHA2 -> r2a_compat.sha2")


def _sha1(node, ctx):
    """SHA1 / SHA / FUNC_SHA1 (https://docs.aws.amazon.com/redshift/latest/dg/SHA1.html): PostgreSQL has no
    built-in SHA-1; r2a_compat.sha1 uses pgcrypto when the target has it."""
    return _compat_call(ctx, "sha1", [node.this], "SHA1 -> r2a_compat.sha1 (pgcrypto's digest when installed)")


# Redshift hashes with no PostgreSQL function giving the same numbers, and why.
_NO_EQUIVALENT = {
    "fnv_hash": "FNV_HASH (https://docs.aws.amazon.com/redshift/latest/dg/r_FNV_HASH.html) hashes each type's "
                "internal binary form with 64-bit FNV-1a; PostgreSQL and AlloyDB have no such function",
}


def _regexp_substr(node, ctx):
    # PostgreSQL 15+ has regexp_substr with Redshift's argument order (source, pattern, position, occurrence)
    args = [node.this, node.expression]
    for key in ("position", "occurrence"):
        if node.args.get(key) is None:
            break
        args.append(node.args[key])
    if node.args.get("parameters") is not None or node.args.get("group") is not None:
        return None
    return exp.Anonymous(this="regexp_substr", expressions=args)


def _months_between(node, ctx):
    return _compat_call(ctx, "months_between", [node.this, node.expression],
                        "MONTHS_BETWEEN -> r2a_compat.months_between")


def _strtol(node, ctx):
    return _compat_call(ctx, "strtol", [node.this, node.expression], "STRTOL -> r2a_compat.strtol")


def _trunc(node, ctx):
    if node.args.get("decimals") is not None:
        return None
    return _compat_call(ctx, "trunc", [node.this], "TRUNC(x) -> r2a_compat.trunc (timestamp -> date)")


def _json_extract(node, ctx):
    path = node.expression
    keys: list[exp.Expression] = []
    if isinstance(path, exp.JSONPath):
        for part in path.expressions:
            if isinstance(part, exp.JSONPathRoot):
                continue
            if isinstance(part, exp.JSONPathKey):
                keys.append(exp.Literal.string(str(part.this)))
            elif isinstance(part, exp.JSONPathSubscript):
                keys.append(exp.Literal.string(str(part.this)))
            else:
                return None
    else:
        keys.append(path)
    return _compat_call(ctx, "json_extract_path_text", [node.this, *keys],
                        "JSON_EXTRACT_PATH_TEXT -> r2a_compat.json_extract_path_text (text input)")


def _round(node, ctx):
    if node.args.get("decimals") is None:
        return None
    return _compat_call(ctx, "round", [node.this, node.args["decimals"]],
                        "ROUND(x, n) -> r2a_compat.round (double precision too)")


def _json_parse(node, ctx):
    """JSON_PARSE returns SUPER, which is jsonb here (sqlglot would write a json cast)."""
    ctx.note("JSON_PARSE -> ::jsonb")
    return exp.Cast(this=node.this, to=exp.DataType.build("jsonb"))


def _approx_distinct(node, ctx):
    ctx.note("APPROXIMATE COUNT(DISTINCT) -> exact COUNT(DISTINCT)")
    return exp.Count(this=exp.Distinct(expressions=[node.this]))


def _current_timestamp(node, ctx):
    if node.args.get("sysdate"):
        return _compat_call(ctx, "sysdate", [], "SYSDATE -> r2a_compat.sysdate()")
    return None


def _anonymous(node, ctx):
    name = node.name.lower()
    if name == "getdate":
        return _compat_call(ctx, "getdate", [], "GETDATE() -> r2a_compat.getdate()")
    if name == "crc32" and len(node.expressions) == 1:
        return _compat_call(ctx, "crc32", list(node.expressions), "CRC32 -> r2a_compat.crc32 (CRC-32C)")
    if name == "func_sha1" and len(node.expressions) == 1:
        return _compat_call(ctx, "sha1", list(node.expressions),
                            "FUNC_SHA1 -> r2a_compat.sha1 (pgcrypto's digest when installed)")
    if name in _NO_EQUIVALENT:
        ctx.result.unsupported = _NO_EQUIVALENT[name]
    return None


def _cast_type(node, ctx):
    if node.this in (exp.DType.UNKNOWN,) or not isinstance(node.parent, (exp.Cast, exp.TryCast)):
        return None
    if node.this == exp.DType.TEXT or (node.this == exp.DType.VARCHAR and not node.expressions):
        return None  # PostgreSQL's unbounded text/varchar reads the same values
    redshift_text = node.sql("redshift").lower()
    try:
        mapped = map_type(redshift_text, postgis=ctx.postgis)
    except UnknownTypeError:
        return None
    if mapped.unsupported:
        ctx.result.unsupported = f"cast to {redshift_text.upper()}: {mapped.unsupported}"
        return None
    if mapped.target == redshift_text:
        return None
    return exp.DataType.build(mapped.target, dialect="postgres")


REWRITES: dict[type, Callable] = {
    exp.TsOrDsDiff: _datediff, exp.DateDiff: _datediff, exp.TimestampDiff: _datediff, exp.DatetimeDiff: _datediff,
    exp.TsOrDsAdd: _dateadd, exp.DateAdd: _dateadd, exp.TimestampAdd: _dateadd, exp.DatetimeAdd: _dateadd,
    exp.WithinGroup: _listagg, exp.GroupConcat: _listagg, exp.Window: _window, exp.Median: _median, exp.Avg: _avg,
    exp.FromBase: _strtol,
    exp.MonthsBetween: _months_between,
    exp.RegexpExtract: _regexp_substr,
    exp.Trunc: _trunc,
    exp.JSONExtractScalar: _json_extract,
    exp.ApproxDistinct: _approx_distinct,
    exp.ParseJSON: _json_parse,
    exp.ConvertTimezone: _convert_timezone,
    exp.SHA2: _sha2,
    exp.SHA: _sha1,
    exp.Round: _round,
    exp.CurrentTimestamp: _current_timestamp,
    exp.Anonymous: _anonymous,
    exp.DataType: _cast_type,
}


def _identifier_name(node: exp.Identifier) -> str:
    return node.this if node.quoted else node.this.lower()


def _cte_names(tree: exp.Expression) -> set[str]:
    return {_identifier_name(cte.args["alias"].this) for cte in tree.find_all(exp.CTE)
            if cte.args.get("alias") is not None and isinstance(cte.args["alias"].this, exp.Identifier)}


def _map_tables(tree: exp.Expression, ctx: _Context) -> set[int]:
    """Point every table reference at its AlloyDB name; returns the ids of the identifiers it set."""
    ctes = _cte_names(tree)
    mapped: set[int] = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        name = _identifier_name(table.this)
        schema_node = table.args.get("db")
        if schema_node is None and name in ctes:
            continue
        database = table.args.get("catalog")
        if database is not None:  # database.schema.table: AlloyDB reads one database, so the name is dropped
            ctx.note(f"database name {database.name} dropped from a three-part name")
            table.set("catalog", None)
        schema = _identifier_name(schema_node) if isinstance(schema_node, exp.Identifier) else "public"
        source = TableRef(schema, name)
        target = ctx.resolver(source)
        if target is None:
            catalog_table = schema_node is None and name.startswith("pg_") and name != "pg_table_def"
            if schema not in SYSTEM_SCHEMAS and not catalog_table:  # pg_table_def is Redshift's alone
                ctx.result.missing.add(source)
            continue
        ctx.result.relations.add(source)
        table_identifier = exp.to_identifier(target.table, quoted=True)
        schema_identifier = exp.to_identifier(target.schema, quoted=True)
        table.set("this", table_identifier)
        table.set("db", schema_identifier)
        mapped.update((id(table_identifier), id(schema_identifier)))
    return mapped


def _fold_case(tree: exp.Expression) -> None:
    """Redshift folds unquoted names to lower case."""
    for node in tree.find_all(exp.Identifier):
        if not node.quoted:
            node.set("this", node.this.lower())


def _column_renames(ctx: _Context) -> dict[str, str]:
    """Columns renamed in the tables the statement reads, when the rename is the same in all of them."""
    renames: dict[str, str] = {}
    conflicting: set[str] = set()
    for relation in sorted(ctx.result.relations):
        for source, target in ctx.columns(relation).items():
            if renames.get(source, target) != target:
                conflicting.add(source)
            renames[source] = target
    return {s: t for s, t in renames.items() if s not in conflicting}


def _rename_identifiers(tree: exp.Expression, ctx: _Context, mapped: set[int]) -> None:
    """Renamed columns get their new name; any other name over 63 bytes gets its AlloyDB short name."""
    renames = _column_renames(ctx)
    for node in tree.find_all(exp.Identifier):
        if id(node) in mapped:
            continue
        name = node.this
        if isinstance(node.parent, exp.Column) and node.parent.this is node and name in renames:
            node.set("this", renames[name])
            if renames[name] != short_name(name):
                ctx.note(f"column {name} -> {renames[name]}")
        elif len(name.encode("utf-8")) > PG_MAX_IDENTIFIER_BYTES:
            node.set("this", short_name(name))


def _rewrite_all(tree: exp.Expression, ctx: _Context) -> exp.Expression:
    """Apply REWRITES bottom-up (reversed pre-order puts every node after its descendants), so a rewritten
    node's arguments are already rewritten."""
    for node in reversed(list(tree.dfs())):
        rule = REWRITES.get(type(node))
        replacement = rule(node, ctx) if rule is not None else None
        if replacement is None or replacement is node:
            continue
        if node is tree:
            tree = replacement
        else:
            node.replace(replacement)
    return tree


def _no_columns(_: TableRef) -> dict[str, str]:
    return {}


def _sysdate_without_parentheses(text: str) -> str:
    """Catalogs that deparse views (PostgreSQL-based ones, the emulator) write SYSDATE as `sysdate()`, which
    Redshift's grammar (and sqlglot's) only knows bare; drop the empty parentheses, never inside a literal."""
    tokens = sqlglot.tokens.Tokenizer().tokenize(text) if "sysdate" in text.lower() else []
    cuts: list[tuple[int, int]] = []
    for before, opening, closing in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if (before.text.lower() == "sysdate" and opening.token_type == sqlglot.tokens.TokenType.L_PAREN
                and closing.token_type == sqlglot.tokens.TokenType.R_PAREN):
            cuts.append((before.end + 1, closing.end + 1))
    for start, end in reversed(cuts):
        text = text[:start] + text[end:]
    return text


def translate(text: str, resolver: Resolver, *, columns: ColumnLookup = _no_columns,
              postgis: bool = False, relation_columns: RelationColumns = no_relation_columns) -> Translation:
    """One Redshift statement (a query) or expression → PostgreSQL text, changes and compat functions used.
    `columns(relation)` gives the renamed columns of a relation (Redshift name → AlloyDB name),
    `relation_columns(relation)` all its columns with their Redshift types (queries.py needs them)."""
    ctx = _Context(resolver, columns, postgis)
    try:
        trees = sqlglot.parse(_sysdate_without_parentheses(text), read=RedshiftSource)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as exc:
        ctx.result.unsupported = f"cannot parse: {_parse_error(exc)}"
        return ctx.result
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        ctx.result.unsupported = f"expected one statement, found {len(trees)}"
        return ctx.result
    tree = trees[0]
    _fold_case(tree)
    try:
        rewrite_pivots(tree, relation_columns, ctx.note)
        tree = rewrite_selects(tree, relation_columns, ctx.note)
    except Unsupported as exc:
        ctx.result.unsupported = str(exc)
        return ctx.result
    except sqlglot.errors.OptimizeError as exc:
        ctx.result.unsupported = f"cannot resolve the query's columns: {one_line(exc, 160)}"
        return ctx.result
    mapped = _map_tables(tree, ctx)
    _rename_identifiers(tree, ctx, mapped)
    tree = _rewrite_all(tree, ctx)
    try:
        ctx.result.sql = tree.sql(dialect=PostgresTarget, identify=True, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        ctx.result.unsupported = f"no PostgreSQL form: {one_line(exc, 160)}"
    return ctx.result
