"""Keys, foreign keys and indexes travel from rewrite_ddl to post-data as data in each block's marker
(shared/constraints.py): post-data reads the table, kind and columns from there and never re-parses the SQL that
rewrite_ddl wrote. Only a block without them (written by hand) is read with sqlglot."""

from __future__ import annotations

import pytest
import sqlglot

from shared.constraints import ConstraintSpec, constraint_spec, is_unique_index, statement_tables
from shared.errors import BadInputError
from shared.identifiers import TableRef
from shared.postdata_jobs import object_jobs
from shared.sqlblocks import SqlObject, parse
from tests.rewrite_ddl.conftest import rewrite
from tests.rewrite_ddl.sample import sample_catalog


@pytest.fixture
def post_data() -> dict[str, SqlObject]:
    files = rewrite(sample_catalog(), sortkey_indexes=True)
    return {o.name: o for o in parse(files.files["post_data.sql"])}


def test_markers_carry_keys_foreign_keys_and_indexes(post_data, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("post-data re-parsed SQL that rewrite_ddl wrote")

    monkeypatch.setattr(sqlglot, "parse", refuse)
    orders = TableRef("sales", "orders")
    assert constraint_spec(post_data["sales.orders.orders_pkey"]) == \
        ConstraintSpec("primary_key", orders, "orders_pkey", ("id",))
    foreign = post_data["sales.orders.orders_customer_fkey"]
    assert constraint_spec(foreign) == ConstraintSpec("foreign_key", orders, "orders_customer_fkey", ())
    assert statement_tables(foreign) == {orders, TableRef("sales", "customers")}
    index = post_data["sales.orders.sortkey"]
    assert statement_tables(index) == {orders} and not is_unique_index(index)
    jobs = {job.key: job for job in object_jobs(list(post_data.values()))}
    names = list(post_data)
    fkey_job = jobs[names.index("sales.orders.orders_customer_fkey")]
    assert {names[k] for k in fkey_job.needs} == {"sales.orders.orders_pkey", "sales.customers.customers_pkey"}


def test_a_block_written_by_hand_is_read_from_its_sql():
    block = SqlObject("constraint", "s.t.k", 'ALTER TABLE s."T" ADD CONSTRAINT k UNIQUE (a, "B");')
    assert constraint_spec(block) == ConstraintSpec("unique", TableRef("s", "T"), "k", ("a", "B"))
    index = SqlObject("index", "s.t.i", "CREATE UNIQUE INDEX i ON s.t (a);")
    assert statement_tables(index) == {TableRef("s", "t")} and is_unique_index(index)


@pytest.mark.parametrize("marker", [
    {"constraint": {"kind": "check", "table": ["s", "t"], "columns": []}},
    {"constraint": {"kind": "unique", "table": ["s"], "columns": ["a"]}},
    {"constraint": {"kind": "unique", "table": ["s", "t"]}},
    {"tables": [["s", ""]]},
])
def test_a_malformed_marker_is_a_clear_error(marker):
    block = SqlObject("constraint", "s.t.k", "ALTER TABLE s.t ADD CONSTRAINT k UNIQUE (a);", extra=tuple(marker.items()))
    with pytest.raises(BadInputError, match="post-data block s.t.k: its marker"):
        constraint_spec(block) if "constraint" in marker else statement_tables(block)
