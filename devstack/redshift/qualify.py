"""QUALIFY (https://docs.aws.amazon.com/redshift/latest/dg/r_QUALIFY_clause.html): filters a SELECT on its window
functions after they are computed. PostgreSQL has no QUALIFY, so

    SELECT <list> FROM … [WHERE …] [GROUP BY …] [HAVING …] QUALIFY <cond> [ORDER BY …] [LIMIT n] [OFFSET m]

becomes

    SELECT "c1", "c2", … FROM (SELECT <list>, (<cond>) AS r2a_qualify FROM … [ORDER BY …]) AS r2a_qualified
    WHERE r2a_qualify [LIMIT n] [OFFSET m]

or, when the condition names the SELECT list's aliases (AWS's examples filter on `row_num` defined there),

    SELECT "c1", "c2", … FROM (SELECT <list> FROM … [ORDER BY …]) AS r2a_qualified WHERE (<cond>) [LIMIT n]

The output column names come from the backend (the SELECT without its QUALIFY, run with LIMIT 0), so the result
and a view made of it have exactly the columns the Redshift query has."""

from __future__ import annotations

from devstack.redshift.lexer import IDENT, PUNCT, Token

_AFTER_QUALIFY = ("ORDER", "LIMIT", "OFFSET", "UNION", "INTERSECT", "EXCEPT", "MINUS")


def _depths(tokens: list[Token]) -> list[int]:
    depths, depth = [], 0
    for token in tokens:
        if token.kind == PUNCT and token.text == ")":
            depth -= 1
        depths.append(depth)
        if token.kind == PUNCT and token.text == "(":
            depth += 1
    return depths


def _clause_at(tokens: list[Token], k: int) -> bool:
    """QUALIFY is not reserved: it starts a clause only where a clause can start (not after `.`, `,`, `(`, AS)."""
    before = next((t for t in reversed(tokens[:k]) if t.significant), None)
    after = next((t for t in tokens[k + 1:] if t.significant), None)
    if before is None or after is None or before.is_word("AS", "SELECT", "BY"):
        return False
    if before.kind == PUNCT and before.text in (".", ",", "("):
        return False
    return not (after.kind == PUNCT and after.text in (",", ")", ".", ";"))


def rewrite(tokens: list[Token], describe, quote) -> list[Token]:
    """`describe(prefix, select)` returns the output column names of a SELECT (tokens of Redshift SQL; prefix is
    what comes before it in the statement) and raises if the backend refuses it; `quote(name)` gives a column
    name as backend SQL."""
    while True:
        depths = _depths(tokens)
        k = next((i for i, t in enumerate(tokens) if t.is_word("QUALIFY") and _clause_at(tokens, i)), None)
        if k is None:
            return tokens
        depth = depths[k]
        start = next(i for i in range(k - 1, -1, -1) if depths[i] == depth and tokens[i].is_word("SELECT"))
        end = next((i for i in range(k + 1, len(tokens)) if depths[i] < depth
                    or (tokens[i].kind == PUNCT and tokens[i].text == ";" and depths[i] == depth)), len(tokens))
        clause_end = next((i for i in range(k + 1, end) if depths[i] == depth and tokens[i].is_word(*_AFTER_QUALIFY)),
                          end)
        limit_at = next((i for i in range(clause_end, end) if depths[i] == depth
                         and tokens[i].is_word("LIMIT", "OFFSET")), end)
        body, condition = tokens[start:k], tokens[k + 1:clause_end]
        order, limit, rest = tokens[clause_end:limit_at], tokens[limit_at:end], tokens[end:]
        from_at = next((i for i in range(len(body)) if depths[start + i] == depth and body[i].is_word("FROM")),
                       len(body))
        names = describe(tokens[:start], body)
        inner = (body[:from_at] + [Token(PUNCT, ","), Token("ws", " "), Token(PUNCT, "(")] + condition
                 + [Token(PUNCT, ")"), Token("ws", " "), Token(IDENT, "AS"), Token("ws", " "),
                    Token(IDENT, "r2a_qualify"), Token("ws", " ")] + body[from_at:] + order)
        where = [Token("raw", " AS r2a_qualified WHERE r2a_qualify ")]
        try:
            describe(tokens[:start], inner)
        except Exception:                  # the condition names output aliases: filter outside instead
            inner = body + order
            where = [Token("raw", " AS r2a_qualified WHERE "), Token(PUNCT, "(")] + condition + [Token(PUNCT, ")"),
                                                                                                  Token("ws", " ")]
        head = "SELECT " + ", ".join(quote(n) for n in names) + " FROM "  # nosec B608  # the client's own query, names quoted
        replacement = [Token("raw", head), Token(PUNCT, "(")] + inner + [Token(PUNCT, ")")] + where + limit
        tokens = tokens[:start] + replacement + rest
