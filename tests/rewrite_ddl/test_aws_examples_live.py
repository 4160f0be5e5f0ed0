"""Views as Redshift shows them, rewritten and applied to PostgreSQL 16 with the data of AWS's examples: every
view returns the values AWS's documentation prints (LISTAGG and MEDIAN also as window functions, DECODE, NVL,
NVL2, DATEADD, DATEDIFF, CHARINDEX, CONVERT_TIMEZONE, AVG) with the types AWS documents where PostgreSQL's differ."""

from __future__ import annotations

import psycopg2
import pytest

from tests.rewrite_ddl import aws_examples
from tests.rewrite_ddl.conftest import apply_all, catalog, column, rewrite, table

SCHEMA = "docs"


def docs_catalog() -> dict:
    tables = [
        table(SCHEMA, "winsales", column("salesid", "integer"), column("dateid", "date"),
              column("sellerid", "integer"), column("buyerid", "character(10)"), column("qty", "integer"),
              column("qty_shipped", "integer")),
        table(SCHEMA, "sales", column("salesid", "integer", identity={"seed": 1, "step": 1}, nullable=False),
              column("sellerid", "integer"), column("eventid", "integer")),
        table(SCHEMA, "category", column("catid", "smallint"), column("catname", "character varying(10)")),
        table(SCHEMA, "instants", column("ts", "timestamp with time zone")),
    ]
    views = [{"schema": SCHEMA, "name": name, "kind": "view", "definition": f"CREATE VIEW {SCHEMA}.{name} AS {text}"}
             for name, text in aws_examples.views(SCHEMA).items()]
    return catalog(tables=tables, views=views)


@pytest.fixture(scope="module")
def files():
    return rewrite(docs_catalog())


@pytest.fixture
def loaded(files, fresh_db):
    assert apply_all(fresh_db, files) == []
    conn = psycopg2.connect(fresh_db)
    with conn.cursor() as cur:
        for statement, rows in aws_examples.rows(SCHEMA):
            cur.executemany(statement, rows)
    conn.commit()
    yield conn
    conn.close()


@pytest.mark.parametrize("view", sorted(aws_examples.EXPECTED))
def test_view_returns_what_aws_documents(loaded, view):
    order, expected = aws_examples.EXPECTED[view]
    with loaded.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")  # Redshift's default (r_timezone_config)
        cur.execute(f'SELECT * FROM "{SCHEMA}"."{view}" ORDER BY {order}')
        assert cur.fetchall() == expected
        types = {d.name: d.type_code for d in cur.description}
    for name, oid in aws_examples.EXPECTED_TYPES.get(view, {}).items():
        assert types[name] == oid, name
