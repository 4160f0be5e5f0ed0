"""The cursor every r2a connection uses: a query composed with psycopg2.sql keeps the `%` of its names and literals.

psycopg2 reads every `%` of a query that comes with parameters as a placeholder, also one that a composed
sql.Identifier or sql.Literal brought in: a Redshift table named `100% done`, or a staging table whose name holds
`%20` for a blank, makes `cur.execute(sql.SQL("... {} ... %s").format(sql.Identifier(name)), (value,))` fail
("tuple index out of range", "unsupported format character") or bind the wrong value. Here those parts are escaped
(`%` → `%%`) before psycopg2 fills in the parameters, so composing names and passing values works for any name.
"""

from __future__ import annotations

import psycopg2.extensions
from psycopg2 import sql


def escape_composed(query: sql.Composable, context) -> sql.Composable:
    """`query` with the `%` of every part that is not SQL text written by r2a doubled."""
    if isinstance(query, sql.Composed):
        return sql.Composed([escape_composed(part, context) for part in query.seq])
    if isinstance(query, (sql.SQL, sql.Placeholder)):
        return query
    return sql.SQL(query.as_string(context).replace("%", "%%"))


class ComposedSafeCursor(psycopg2.extensions.cursor):
    def execute(self, query, vars=None):
        if vars is not None and isinstance(query, sql.Composable):
            query = escape_composed(query, self)
        return super().execute(query, vars)

    def executemany(self, query, vars_list):
        if isinstance(query, sql.Composable):
            query = escape_composed(query, self)
        return super().executemany(query, vars_list)

    def mogrify(self, query, vars=None):
        if vars is not None and isinstance(query, sql.Composable):
            query = escape_composed(query, self)
        return super().mogrify(query, vars)
