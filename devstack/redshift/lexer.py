"""A small SQL tokenizer for Redshift text: enough to split statements, find identifiers, string literals and
parentheses, and to put a statement back together byte for byte (every token keeps its source text).

Redshift string literals accept a backslash escape (`'it\\'s'`) as well as a doubled quote, so the tokenizer
does too; the backend session runs with standard_conforming_strings off to read them the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass

WS, COMMENT, STRING, DOLLAR, IDENT, QIDENT, NUMBER, PARAM, OP, PUNCT = (
    "ws", "comment", "string", "dollar", "ident", "qident", "number", "param", "op", "punct")

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_IDENT = re.compile(r"[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*")
_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_PARAM = re.compile(r"\$\d+")
_OPCHARS = "+-*/<>=~!@#%^&|`?:"


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(name: str) -> str:
    """Redshift folds ASCII letters only (https://docs.aws.amazon.com/redshift/latest/dg/r_names.html): `Ärger`
    keeps its Ä, as PostgreSQL's own folding of unquoted UTF-8 names does."""
    return name.translate(_ASCII_LOWER)


class SqlSyntaxError(ValueError):
    """Unterminated literal or comment."""


@dataclass
class Token:
    kind: str
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == IDENT else ""

    def is_word(self, *words: str) -> bool:
        return self.kind == IDENT and self.text.upper() in words

    @property
    def significant(self) -> bool:
        return self.kind not in (WS, COMMENT)

    @property
    def name(self) -> str:
        """The identifier this token names, folded like Redshift folds it (quoted names too)."""
        if self.kind == QIDENT:
            return fold(self.text[1:-1].replace('""', '"'))
        return fold(self.text)


def tokenize(sql: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            j = i + 1
            while j < n and sql[j].isspace():
                j += 1
            tokens.append(Token(WS, sql[i:j]))
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j + 1
            tokens.append(Token(COMMENT, sql[i:j]))
        elif sql.startswith("/*", i):
            j, depth = i + 2, 1
            while depth:
                if j >= n:
                    raise SqlSyntaxError("unterminated /* comment")
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            tokens.append(Token(COMMENT, sql[i:j]))
        elif c == "'" or (c in "eEbBxXnN" and sql.startswith("'", i + 1)):
            j = _string_end(sql, i + 1 if c != "'" else i)
            tokens.append(Token(STRING, sql[i:j]))
        elif c == '"':
            j = i + 1
            while True:
                k = sql.find('"', j)
                if k < 0:
                    raise SqlSyntaxError("unterminated quoted identifier")
                if sql.startswith('""', k):
                    j = k + 2
                    continue
                j = k + 1
                break
            tokens.append(Token(QIDENT, sql[i:j]))
        elif c == "$":
            param = _PARAM.match(sql, i)
            tag = _DOLLAR_TAG.match(sql, i)
            if param:
                tokens.append(Token(PARAM, param.group()))
                j = param.end()
            elif tag:
                end = sql.find(tag.group(), tag.end())
                if end < 0:
                    raise SqlSyntaxError("unterminated dollar-quoted string")
                j = end + len(tag.group())
                tokens.append(Token(DOLLAR, sql[i:j]))
            else:
                j = i + 1
                tokens.append(Token(OP, c))
        elif c.isdigit() or (c == "." and i + 1 < n and sql[i + 1].isdigit()):
            match = _NUMBER.match(sql, i)
            j = match.end()
            tokens.append(Token(NUMBER, sql[i:j]))
        elif _IDENT.match(sql, i):
            j = _IDENT.match(sql, i).end()
            tokens.append(Token(IDENT, sql[i:j]))
        elif c == "#" and _IDENT.match(sql, i + 1) and _names_a_table(tokens):
            # #name is a temporary table (r_CREATE_TABLE_NEW.html); elsewhere # is bitwise XOR
            j = _IDENT.match(sql, i + 1).end()
            tokens.append(Token(IDENT, sql[i:j]))
        elif c in "(),;.[]{}":
            j = i + 1
            tokens.append(Token(PUNCT, c))
        elif c in _OPCHARS:
            j = i + 1
            while j < n and sql[j] in _OPCHARS and not sql.startswith("--", j) and not sql.startswith("/*", j):
                j += 1
            tokens.append(Token(OP, sql[i:j]))
        else:
            j = i + 1
            tokens.append(Token(OP, c))
        i = j
    return tokens


_BEFORE_TABLE = frozenset({"TABLE", "FROM", "JOIN", "INTO", "UPDATE", "EXISTS", "TRUNCATE", "ANALYZE", "VACUUM"})


def _names_a_table(tokens: list[Token]) -> bool:
    before = next((t for t in reversed(tokens) if t.significant), None)
    return before is not None and (before.upper in _BEFORE_TABLE or (before.kind == PUNCT and before.text == ","))


def _string_end(sql: str, quote: int) -> int:
    j, n = quote + 1, len(sql)
    while j < n:
        c = sql[j]
        if c == "\\":
            j += 2
            continue
        if c == "'":
            if sql.startswith("''", j):
                j += 2
                continue
            return j + 1
        j += 1
    raise SqlSyntaxError("unterminated quoted string")


def string_value(token: Token) -> str:
    """The value of a string literal token ('..', E'..', or $$..$$)."""
    text = token.text
    if token.kind == DOLLAR:
        tag_end = text.index("$", 1) + 1
        return text[tag_end:-tag_end]
    if text[0] in "eEnN":
        text = text[1:]
    body = text[1:-1]
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}.get(nxt, nxt))
            i += 2
        elif c == "'" and body.startswith("''", i):
            out.append("'")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def quote_literal(value: str) -> str:
    """A literal that reads back as `value` whether or not backslashes are escapes."""
    if "\\" in value:
        return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + value.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) and name.upper() not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def join(tokens: list[Token]) -> str:
    return "".join(t.text for t in tokens)


def split_statements(sql: str) -> list[str]:
    """Statements of a simple-query message, without the separating semicolons; empty ones dropped."""
    statements, current = [], []
    for token in tokenize(sql):
        if token.kind == PUNCT and token.text == ";":
            statements.append(current)
            current = []
        else:
            current.append(token)
    statements.append(current)
    return [join(s).strip() for s in statements if any(t.significant for t in s)]


def significant(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.significant]


def matching_paren(tokens: list[Token], open_index: int) -> int:
    """Index of the ')' closing the '(' at open_index (tokens may include whitespace)."""
    depth = 0
    for k in range(open_index, len(tokens)):
        t = tokens[k]
        if t.kind == PUNCT and t.text == "(":
            depth += 1
        elif t.kind == PUNCT and t.text == ")":
            depth -= 1
            if depth == 0:
                return k
    raise SqlSyntaxError("unbalanced parentheses")


def split_top_level(tokens: list[Token], separator: str = ",") -> list[list[Token]]:
    """Split a token list at separators that are not nested in parentheses or brackets."""
    parts, current, depth = [], [], 0
    for t in tokens:
        if t.kind == PUNCT and t.text in "([":
            depth += 1
        elif t.kind == PUNCT and t.text in ")]":
            depth -= 1
        if depth == 0 and t.kind == PUNCT and t.text == separator:
            parts.append(current)
            current = []
        else:
            current.append(t)
    parts.append(current)
    return parts


_RESERVED = frozenset("""
AES128 AES256 ALL ALLOWOVERWRITE ANALYSE ANALYZE AND ANY ARRAY AS ASC AUTHORIZATION AZ64 BACKUP BETWEEN BINARY
BLANKSASNULL BOTH BYTEDICT BZIP2 CASE CAST CHECK COLLATE COLUMN CONSTRAINT CREATE CREDENTIALS CROSS CURRENT_DATE
CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURRENT_USER_ID DEFAULT DEFERRABLE DEFLATE DEFRAG DELTA DELTA32K DESC
DISABLE DISTINCT DO ELSE EMPTYASNULL ENABLE ENCODE ENCRYPT ENCRYPTION END EXCEPT EXPLICIT FALSE FOR FOREIGN FREEZE
FROM FULL GLOBALDICT256 GLOBALDICT64K GRANT GROUP GZIP HAVING IDENTITY IGNORE ILIKE IN INITIALLY INNER INTERSECT
INTERVAL INTO IS ISNULL JOIN LANGUAGE LEADING LEFT LIKE LIMIT LOCALTIME LOCALTIMESTAMP LUN LUNS LZO LZOP MINUS
MOSTLY16 MOSTLY32 MOSTLY8 NATURAL NEW NOT NOTNULL NULL NULLS OFF OFFLINE OFFSET OID OLD ON ONLY OPEN OR ORDER OUTER
OVERLAPS PARALLEL PARTITION PERCENT PERMISSIONS PIVOT PLACING PRIMARY RAW READRATIO RECOVER REFERENCES REJECTLOG
RESORT RESPECT RESTORE RIGHT SELECT SESSION_USER SIMILAR SNAPSHOT SOME SYSDATE SYSTEM TABLE TAG TDES TEXT255
TEXT32K THEN TIMESTAMP TO TOP TRAILING TRUE TRUNCATECOLUMNS UNION UNIQUE UNNEST UNPIVOT USER USING VERBOSE WALLET
WHEN WHERE WITH WITHOUT
""".split())
