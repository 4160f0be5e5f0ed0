"""SHOW TABLE text read token by token with sqlglot's Redshift tokenizer: comments, string literals, quoted names
and dollar-quoted bodies are single tokens, so neither the layout (line breaks, `ENCODE raw`, `COLLATE`, where
`DISTSTYLE` and `SORTKEY` start a line) nor text inside a default or a name can pass for a table attribute.

AWS's SHOW TABLE reference (https://docs.aws.amazon.com/redshift/latest/dg/r_SHOW_TABLE.html) prints
`COLLATE case_sensitive` on character columns; clusters print `ENCODE raw` where AWS's examples print nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot.tokens import TokenType

# CREATE TABLE's collation names (https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html)
_COLLATIONS = {"case_sensitive": "case_sensitive", "cs": "case_sensitive",
               "case_insensitive": "case_insensitive", "ci": "case_insensitive"}


@dataclass(frozen=True)
class ShownTable:
    backup: bool = True
    collations: dict[str, str] = field(default_factory=dict)   # column name → case_sensitive | case_insensitive


def _tokens(text: str) -> list:
    try:
        return sqlglot.tokenize(text, read="redshift")
    except sqlglot.errors.TokenError:
        return []


def _name(token) -> str:
    """A column name as the catalog spells it: quoted names keep their case, bare ones fold to lower case."""
    return token.text if token.token_type == TokenType.IDENTIFIER else token.text.lower()


def _word(token, *words: str) -> bool:
    return token.token_type not in (TokenType.IDENTIFIER, TokenType.STRING) and token.text.upper() in words


def read_show_table(text: str) -> ShownTable:
    """BACKUP NO and each column's COLLATE; text that does not tokenize reads as a table with neither."""
    tokens = _tokens(text)
    start = next((k for k, t in enumerate(tokens) if t.token_type == TokenType.L_PAREN), None)
    if start is None:
        return ShownTable()
    collations: dict[str, str] = {}
    depth, element_start, k = 0, start + 1, start
    while k < len(tokens):
        kind = tokens[k].token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
        if depth == 0 or (depth == 1 and kind == TokenType.COMMA):
            _column_collation(tokens[element_start:k], collations)
            element_start = k + 1
        if depth == 0:
            break
        k += 1
    tail = tokens[k + 1:]
    backup = not any(_word(a, "BACKUP") and _word(b, "NO") for a, b in zip(tail, tail[1:], strict=False))
    return ShownTable(backup, collations)


def _column_collation(element: list, collations: dict[str, str]) -> None:
    if not element or _word(element[0], "CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK"):
        return
    for a, b in zip(element, element[1:], strict=False):
        if a.token_type == TokenType.COLLATE and b.text.lower() in _COLLATIONS:
            collations[_name(element[0])] = _COLLATIONS[b.text.lower()]
