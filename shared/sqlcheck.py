"""Before an object's block runs anywhere, PostgreSQL's own parser (libpg_query, through pglast) checks that it
holds exactly one statement of the kind the marker names, plus only the statements that kind may carry along
(its COMMENT, a group's membership GRANTs). A block that holds anything else (a second CREATE, a COPY, a
transaction-control statement, text that does not parse) is never sent to a server.

This is the second line of defence: shared/sqlblocks.py's framing already keeps text from Redshift inside its
block, and literals and dollar quotes keep it inside its statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pglast import ast, parse_sql
from pglast.enums import ObjectType
from pglast.parser import ParseError

from shared.log import one_line
from shared.sqlblocks import SqlObject


def _comment_on(*types: ObjectType) -> Callable[[ast.Node], bool]:
    return lambda node: isinstance(node, ast.CommentStmt) and node.objtype in types


@dataclass(frozen=True)
class Rule:
    main: Callable[[ast.Node], bool] | None  # exactly one statement must match (None: no main statement)
    main_name: str
    allows_after: Callable[[ast.Node], bool] = lambda node: False  # any number may follow the main one


def _is(node_type: type, **fields) -> Callable[[ast.Node], bool]:
    return lambda node: isinstance(node, node_type) and all(getattr(node, k) == v for k, v in fields.items())


def _add_constraints(node: ast.Node) -> bool:
    return isinstance(node, ast.AlterTableStmt) and node.objtype == ObjectType.OBJECT_TABLE \
        and all(isinstance(cmd, ast.AlterTableCmd) and cmd.subtype.name == "AT_AddConstraint"
                for cmd in node.cmds or ())


RULES: dict[str, Rule] = {
    "schema": Rule(_is(ast.CreateSchemaStmt), "CREATE SCHEMA", _comment_on(ObjectType.OBJECT_SCHEMA)),
    "table": Rule(_is(ast.CreateStmt), "CREATE TABLE"),
    "comment": Rule(None, "COMMENT", _comment_on(ObjectType.OBJECT_TABLE, ObjectType.OBJECT_COLUMN)),
    "view": Rule(_is(ast.ViewStmt), "CREATE VIEW", _comment_on(ObjectType.OBJECT_VIEW)),
    "materialized_view": Rule(_is(ast.CreateTableAsStmt, objtype=ObjectType.OBJECT_MATVIEW),
                              "CREATE MATERIALIZED VIEW", _comment_on(ObjectType.OBJECT_MATVIEW)),
    "function": Rule(_is(ast.CreateFunctionStmt, is_procedure=False), "CREATE FUNCTION",
                     _comment_on(ObjectType.OBJECT_FUNCTION)),
    "procedure": Rule(_is(ast.CreateFunctionStmt, is_procedure=True), "CREATE PROCEDURE",
                      _comment_on(ObjectType.OBJECT_PROCEDURE)),
    "user": Rule(_is(ast.DoStmt), "DO (CREATE ROLE)"),
    "group": Rule(_is(ast.DoStmt), "DO (CREATE ROLE)", _is(ast.GrantRoleStmt, is_grant=True)),
    "grant": Rule(_is(ast.GrantStmt, is_grant=True), "GRANT"),
    "constraint": Rule(_add_constraints, "ALTER TABLE … ADD CONSTRAINT"),
    "index": Rule(_is(ast.IndexStmt), "CREATE INDEX"),
}


def refusal(obj: SqlObject) -> str | None:
    """Why the block must not run (one line), or None when it is exactly one statement of its kind."""
    rule = RULES.get(obj.kind)
    if rule is None:
        return f"r2a does not apply blocks of kind {obj.kind!r}"
    try:
        statements = [raw.stmt for raw in parse_sql(obj.sql)]
    except ParseError as exc:
        return f"PostgreSQL's parser cannot read the block ({one_line(exc, 200)})"
    if not statements:
        return "the block holds no SQL statement"
    first = 0
    if rule.main is not None:
        if not rule.main(statements[0]):
            return f"a {obj.kind} block must start with {rule.main_name}, not {_name(statements[0])}"
        first = 1
    for number, node in enumerate(statements[first:], start=first + 1):
        if not rule.allows_after(node):
            what = f"one {rule.main_name} statement" if rule.main is not None else f"{rule.main_name} statements"
            return f"a {obj.kind} block holds {what} only; statement {number} is {_name(node)}"
    return None


def _name(node: ast.Node) -> str:
    return type(node).__name__
