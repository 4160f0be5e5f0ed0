"""Redshift SQL → the backend's PostgreSQL, token by token.

Most Redshift functions exist as backend functions (catalog.sql installs them in schema r2a_catalog, first on the
backend search_path); this module only rewrites what PostgreSQL cannot parse or would read differently:
identifiers (case folding of quoted names, names longer than 63 bytes), LISTAGG … WITHIN GROUP, NVL/NVL2/DECODE,
bare date parts (DATEADD(day, …)), EXTRACT with Redshift's abbreviations, SYSDATE, APPROXIMATE, VARCHAR(MAX)
and Redshift-only type names."""

from __future__ import annotations

from devstack.redshift.lexer import (
    IDENT,
    NUMBER,
    OP,
    PUNCT,
    QIDENT,
    STRING,
    Token,
    fold,
    matching_paren,
    quote_ident,
    quote_literal,
    split_top_level,
    string_value,
)
from devstack.redshift.state import MAX_BACKEND_NAME, backend_name

MAX_REDSHIFT_NAME = 127
_DATEPART_FUNCTIONS = {"DATEADD", "DATEDIFF", "DATE_PART", "PGDATE_PART", "DATE_TRUNC"}
_TYPE_RENAMES = {"NVARCHAR": "varchar", "NCHAR": "char", "VARBINARY": "varbyte", "BPCHAR": "bpchar"}


def identifier_sql(name: str, engine) -> str:
    """A (folded) Redshift identifier as backend SQL: quoted as needed, shortened past 63 bytes (Redshift itself
    truncates names to 127 bytes)."""
    if len(name.encode()) > MAX_REDSHIFT_NAME:
        name = name.encode()[:MAX_REDSHIFT_NAME].decode(errors="ignore")
    if len(name.encode()) > MAX_BACKEND_NAME:
        short = backend_name(name)
        if engine.transaction_status() == "T":
            # Inside the client's transaction: its snapshot (repeatable read, as Redshift's) would not see a row
            # another connection commits now, so rs_name() would show the backend name; the row goes in with the
            # client's own writes (and away with them on rollback, as the object it names).
            engine.run("insert into r2a_emulator.long_names values (%s, %s) on conflict do nothing", (short, name))
            engine.state.long_names.remember(short, name)
        else:
            engine.state.remember_long_name(short, name)
        return quote_ident(short)
    return quote_ident(name)


def _identifier(token: Token, engine) -> str:
    if token.kind == QIDENT:
        name = token.name if not engine.case_sensitive else token.text[1:-1].replace('""', '"')
        return identifier_sql(name, engine) if (name != token.text[1:-1] or len(name.encode()) > 63) else token.text
    if token.text.startswith("#"):          # a #temporary table: the backend's temp table has the bare name
        return identifier_sql(fold(token.text[1:]), engine)
    if len(token.text.encode()) > MAX_BACKEND_NAME:
        return identifier_sql(fold(token.text), engine)
    return token.text


def statement(tokens: list[Token], engine) -> str:
    return _rewrite(_qualify(_top_to_limit(tokens), engine), engine)


def _qualify(tokens: list[Token], engine) -> list[Token]:
    if not any(t.is_word("QUALIFY") for t in tokens):
        return tokens
    from devstack.redshift import qualify

    def describe(prefix: list[Token], body: list[Token]) -> list[str]:
        words = [t for t in prefix if t.significant]
        balanced = sum(_is(t, PUNCT, "(") for t in prefix) == sum(_is(t, PUNCT, ")") for t in prefix)
        if words and words[0].is_word("WITH") and balanced:        # the SELECT of WITH …: its CTEs come along
            sql = f"{_rewrite(prefix + body, engine)} LIMIT 0"
        else:
            sql = f"SELECT * FROM ({_rewrite(body, engine)}) AS r2a_describe LIMIT 0"  # nosec B608  # the client's own query
        in_transaction = engine.transaction_status() != "I"
        if in_transaction:                 # a refused probe must not abort the client's transaction
            engine.run("SAVEPOINT r2a_qualify")
        try:
            columns = engine.run(sql).columns
        except Exception:
            if in_transaction:
                engine.run("ROLLBACK TO SAVEPOINT r2a_qualify")
            raise
        if in_transaction:
            engine.run("RELEASE SAVEPOINT r2a_qualify")
        return [column.name for column in columns]

    return qualify.rewrite(tokens, describe, lambda name: identifier_sql(name, engine))


def _top_to_limit(tokens: list[Token]) -> list[Token]:
    """SELECT [DISTINCT] TOP n … → SELECT [DISTINCT] … LIMIT n (at the end of that SELECT's parentheses)."""
    if not any(t.is_word("TOP") for t in tokens):
        return tokens
    tokens = list(tokens)
    k = 0
    while k < len(tokens):
        if tokens[k].is_word("SELECT"):
            j = _next_sig(tokens, k + 1)
            if j < len(tokens) and tokens[j].is_word("DISTINCT", "ALL"):
                j = _next_sig(tokens, j + 1)
            n = _next_sig(tokens, j + 1)
            if j < len(tokens) and tokens[j].is_word("TOP") and n < len(tokens) and tokens[n].kind == NUMBER:
                count = tokens[n].text
                end = _scope_end(tokens, k)
                tokens[end:end] = [Token("ws", " "), Token(IDENT, "LIMIT"), Token("ws", " "), Token(NUMBER, count)]
                del tokens[j:n + 1]
        k += 1
    return tokens


def _scope_end(tokens: list[Token], start: int) -> int:
    depth = 0
    for k in range(start, len(tokens)):
        if _is(tokens[k], PUNCT, "("):
            depth += 1
        elif _is(tokens[k], PUNCT, ")"):
            if depth == 0:
                return k
            depth -= 1
    return len(tokens)


def expression(tokens: list[Token], engine) -> str:
    return _rewrite(_qualify(tokens, engine), engine).strip()


def _next_sig(tokens: list[Token], start: int) -> int:
    k = start
    while k < len(tokens) and not tokens[k].significant:
        k += 1
    return k


def _prev_sig(tokens: list[Token], start: int) -> Token | None:
    k = start
    while k >= 0:
        if tokens[k].significant:
            return tokens[k]
        k -= 1
    return None


def _is(token: Token | None, kind: str, text: str) -> bool:
    return token is not None and token.kind == kind and token.text == text


def _rewrite(tokens: list[Token], engine) -> str:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == QIDENT:
            out.append(_identifier(token, engine))
            i += 1
            continue
        if token.kind != IDENT:
            out.append(token.text)
            i += 1
            continue
        word = token.upper
        after = _next_sig(tokens, i + 1)
        prev = _prev_sig(tokens, i - 1)
        qualified = _is(prev, PUNCT, ".") or (after < len(tokens) and _is(tokens[after], PUNCT, "."))
        calls = after < len(tokens) and _is(tokens[after], PUNCT, "(")
        if qualified and not _is(prev, PUNCT, ".") and token.text.lower() == engine.config.database \
                and _three_part(tokens, i):
            # database.schema.object (https://docs.aws.amazon.com/redshift/latest/dg/cross-database_usage.html):
            # the emulator's one database is the backend's current one, so its name is dropped
            i = _next_sig(tokens, after + 1)
            continue
        if qualified:
            out.append(_identifier(token, engine))
            i += 1
            continue
        if calls and word in _FUNCTION_REWRITES:
            close = matching_paren(tokens, after)
            replacement, i = _FUNCTION_REWRITES[word](tokens, i, after, close, engine)
            if replacement is not None:
                out.append(replacement)
                continue
            out.append(token.text)
            i += 1
            continue
        if word == "SYSDATE" and not calls:
            out.append("sysdate()")
            i += 1
            continue
        if word == "APPROXIMATE" and after < len(tokens) and tokens[after].is_word("COUNT", "PERCENTILE_DISC"):
            i = after
            continue
        if word in _TYPE_RENAMES and not _is(prev, OP, "=") and (calls or _is(prev, OP, "::") or prev is None
                                                                  or prev.is_word("AS")):
            out.append(_TYPE_RENAMES[word])
            i += 1
            continue
        if word in ("VARCHAR", "NVARCHAR", "CHAR", "CHARACTER", "VARYING") and calls:
            close = matching_paren(tokens, after)
            inner = [t for t in tokens[after + 1:close] if t.significant]
            if len(inner) == 1 and inner[0].is_word("MAX"):
                out.append(_TYPE_RENAMES.get(word, token.text) + "(65535)")
                i = close + 1
                continue
        out.append(_identifier(token, engine))
        i += 1
    return "".join(out)


def _three_part(tokens: list[Token], start: int) -> bool:
    """name . name . name starting at start (and not a fourth part before it)."""
    k, parts = start, 0
    while k < len(tokens) and tokens[k].kind in (IDENT, QIDENT):
        parts += 1
        dot = _next_sig(tokens, k + 1)
        if dot >= len(tokens) or not _is(tokens[dot], PUNCT, "."):
            break
        k = _next_sig(tokens, dot + 1)
    return parts == 3


# ---------------------------------------------------------------- function rewrites
# Each gets (tokens, name index, '(' index, ')' index, engine) and returns (text or None, next index).

def _args(tokens: list[Token], open_: int, close: int) -> list[list[Token]]:
    inner = tokens[open_ + 1:close]
    if not any(t.significant for t in inner):
        return []
    return split_top_level(inner)


def _nvl(tokens, name, open_, close, engine):
    args = [_rewrite(a, engine).strip() for a in _args(tokens, open_, close)]
    return f"coalesce({', '.join(args)})", close + 1


def _nvl2(tokens, name, open_, close, engine):
    args = [_rewrite(a, engine).strip() for a in _args(tokens, open_, close)]
    if len(args) != 3:
        return None, name
    return f"(CASE WHEN ({args[0]}) IS NOT NULL THEN ({args[1]}) ELSE ({args[2]}) END)", close + 1


def _decode(tokens, name, open_, close, engine):
    args = [_rewrite(a, engine).strip() for a in _args(tokens, open_, close)]
    if len(args) < 3:
        return None, name            # PostgreSQL's decode(text, format)
    expr, rest = args[0], args[1:]
    default = rest.pop() if len(rest) % 2 else None
    whens = " ".join(f"WHEN ({expr}) IS NOT DISTINCT FROM ({search}) THEN ({result})"
                     for search, result in zip(rest[0::2], rest[1::2], strict=False))
    return f"(CASE {whens}{f' ELSE ({default})' if default is not None else ''} END)", close + 1


def _datepart_first(tokens, name, open_, close, engine):
    args = _args(tokens, open_, close)
    if not args:
        return None, name
    first = [t for t in args[0] if t.significant]
    rest = [_rewrite(a, engine).strip() for a in args[1:]]
    if len(first) == 1 and first[0].kind in (IDENT, QIDENT):
        part = quote_literal(first[0].name)
    elif len(first) == 1 and first[0].kind == STRING:
        part = quote_literal(string_value(first[0]).lower())
    else:
        part = _rewrite(args[0], engine).strip()
    function = tokens[name].text.lower()
    if function == "pgdate_part":
        function = "date_part"
    return f"{function}({', '.join([part] + rest)})", close + 1


def _extract(tokens, name, open_, close, engine):
    inner = tokens[open_ + 1:close]
    sig = [k for k, t in enumerate(inner) if t.significant]
    if len(sig) < 3 or not inner[sig[1]].is_word("FROM"):
        return None, name
    part_token = inner[sig[0]]
    part = string_value(part_token) if part_token.kind == STRING else part_token.name
    source = _rewrite(inner[sig[1] + 1:], engine).strip()
    return f"date_part({quote_literal(part.lower())}, {source})", close + 1


def _listagg(tokens, name, open_, close, engine):
    # Redshift's LISTAGG skips NULLs and empty strings and honours WITHIN GROUP ordering, also in a window
    # and with DISTINCT over non-text values; string_agg alone would keep '' and sort DISTINCT values as text.
    args = _args(tokens, open_, close)
    if not args:
        return None, name
    first = args[0]
    sig = [t for t in first if t.significant]
    distinct = bool(sig) and sig[0].is_word("DISTINCT")
    if distinct:
        index = next(k for k, t in enumerate(first) if t.significant)
        first = first[index + 1:]
    value = f"({_rewrite(first, engine).strip()})"
    expr = f"{value}::text"
    delimiter = _rewrite(args[1], engine).strip() if len(args) > 1 else "''"
    end = close + 1
    order_text = ""
    k = _next_sig(tokens, end)
    if k < len(tokens) and tokens[k].is_word("WITHIN"):
        group = _next_sig(tokens, k + 1)
        paren = _next_sig(tokens, group + 1)
        if group < len(tokens) and tokens[group].is_word("GROUP") and paren < len(tokens) \
                and _is(tokens[paren], PUNCT, "("):
            order_close = matching_paren(tokens, paren)
            order_text = _rewrite(tokens[paren + 1:order_close], engine).strip()
            end = order_close + 1
    over = _next_sig(tokens, end)
    windowed = over < len(tokens) and tokens[over].is_word("OVER")
    if windowed:
        over_open = _next_sig(tokens, over + 1)
        if distinct or over_open >= len(tokens) or not _is(tokens[over_open], PUNCT, "("):
            return f"string_agg({'DISTINCT ' if distinct else ''}{expr}, {delimiter})", end
        over_close = matching_paren(tokens, over_open)
        partition = _rewrite(tokens[over_open + 1:over_close], engine).strip()
        frame = " ".join(part for part in (partition, order_text) if part)
        return (f"array_to_string(array_remove((array_agg({value}) OVER ({frame} ROWS BETWEEN UNBOUNDED PRECEDING"
                f" AND UNBOUNDED FOLLOWING))::text[], ''), {delimiter})", over_close + 1)
    if distinct:
        order = f" ORDER BY {value}" + (" DESC" if order_text.upper().endswith(" DESC") else "")
        return f"array_to_string(array_remove((array_agg(DISTINCT {value}{order}))::text[], ''), {delimiter})", end
    order = f" {order_text}" if order_text else ""
    return f"string_agg(NULLIF({expr}, ''), {delimiter}{order})", end


def _ratio_to_report(tokens, name, open_, close, engine):
    """RATIO_TO_REPORT(x) OVER ([PARTITION BY …]) = x / the sum of x over the partition, FLOAT8
    (https://docs.aws.amazon.com/redshift/latest/dg/r_WF_RATIO_TO_REPORT.html); a zero sum gives NULL."""
    over = _next_sig(tokens, close + 1)
    over_open = _next_sig(tokens, over + 1)
    if over >= len(tokens) or not tokens[over].is_word("OVER") or over_open >= len(tokens) \
            or not _is(tokens[over_open], PUNCT, "("):
        return None, name
    over_close = matching_paren(tokens, over_open)
    value = f"(({_rewrite(tokens[open_ + 1:close], engine).strip()})::float8)"
    window = _rewrite(tokens[over_open + 1:over_close], engine).strip()
    return f"({value} / NULLIF(sum({value}) OVER ({window}), 0))", over_close + 1


def _convert_timezone(tokens, name, open_, close, engine):
    args = [_rewrite(a, engine).strip() for a in _args(tokens, open_, close)]
    return f"convert_timezone({', '.join(args)})", close + 1


_FUNCTION_REWRITES = {
    "NVL": _nvl, "NVL2": _nvl2, "DECODE": _decode, "LISTAGG": _listagg, "EXTRACT": _extract,
    "RATIO_TO_REPORT": _ratio_to_report,
    **{name: _datepart_first for name in _DATEPART_FUNCTIONS},
}


# ---------------------------------------------------------------- names in a statement

def relations_named(tokens: list[Token]) -> set[str]:
    """Every dotted name in the statement, as 'a.b' and as its last part (lower case), for fault matching."""
    names: set[str] = set()
    sig = [t for t in tokens if t.significant]
    k = 0
    while k < len(sig):
        if sig[k].kind in (IDENT, QIDENT):
            parts = [sig[k].name]
            while k + 2 < len(sig) and _is(sig[k + 1], PUNCT, ".") and sig[k + 2].kind in (IDENT, QIDENT):
                parts.append(sig[k + 2].name)
                k += 2
            names.add(parts[-1])
            if len(parts) >= 2:
                names.add(".".join(parts[-2:]))
        k += 1
    return names


def number_value(token: Token) -> int | None:
    return int(token.text) if token.kind == NUMBER and token.text.isdigit() else None
