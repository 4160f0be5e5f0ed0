"""Names from Redshift are data: a table and columns whose names hold `%`, psycopg2's placeholders, quotes and a
blank go through every way table_transfer writes a table (first load, a re-run's shadow switched in by
TRUNCATE + INSERT and by renames, a loader of its own, an incremental sync by cursor and key), each arriving row for
row. Redshift's delimited identifiers may hold any printable UTF-8 character, a double quote written twice
(https://docs.aws.amazon.com/redshift/latest/dg/r_names.html)."""

from __future__ import annotations

import json

import psycopg2
import pytest
from psycopg2 import sql

from shared.pgcursor import ComposedSafeCursor
from tests.table_transfer.conftest import quoted

TABLE = 'Pct 100% done %s %(x)s "q" \'a\''
COLUMNS = [("id %s", "integer"), ("at %(t)s", "timestamp"), ("v 50%", "varchar(20)")]


def _source_rows(transfer) -> list[tuple]:
    return transfer.rs_rows(f"SELECT * FROM {quoted(transfer.schema)}.{quoted(TABLE)} ORDER BY 1")


def _target_rows(transfer, target) -> list[tuple]:
    return transfer.pg_rows(f"SELECT * FROM {quoted(target.schema)}.{quoted(target.table)} ORDER BY 1")


def _insert(transfer, values: str) -> None:
    transfer.rs_execute(f"INSERT INTO {quoted(transfer.schema)}.{quoted(TABLE)} VALUES {values}")


@pytest.mark.parametrize("rename_switch_mb", ["0", "100000"], ids=["rename", "truncate-insert"])
def test_a_re_run_of_a_table_named_with_placeholders_switches_its_shadow_in(transfer, rename_switch_mb):
    source, target = transfer.table(TABLE, COLUMNS)
    _insert(transfer, "(1, '2024-01-01', '%s'), (2, NULL, '100%')")
    code, output = transfer.run("--table", str(source))
    assert code == 0, output
    assert _target_rows(transfer, target) == _source_rows(transfer)

    _insert(transfer, "(3, '2024-01-02', '%(x)s')")  # the target has rows: the re-run loads a shadow
    code, output = transfer.run("--table", str(source), "--rename-switch-mb", rename_switch_mb,
                                "--load-sessions", "2")
    assert code == 0, output
    result = transfer.result(source)
    assert result["status"] == "succeeded" and result["rows_loaded"] == 3
    assert _target_rows(transfer, target) == _source_rows(transfer)
    assert len(_target_rows(transfer, target)) == 3


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_an_incremental_sync_by_a_cursor_and_key_named_with_placeholders(transfer, tmp_path, mode):
    source, target = transfer.table(TABLE, COLUMNS)
    _insert(transfer, "(1, '2024-01-01', 'a'), (2, '2024-01-02', 'b')")
    table_config = {"mode": mode, "cursor": "at %(t)s"} | ({"key": ["id %s"]} if mode == "upsert" else {})
    config = tmp_path / "sync.json"
    config.write_text(json.dumps({"tables": {str(source): table_config}}))
    assert transfer.run("--table", str(source), "--sync-config", str(config))[0] == 0
    _insert(transfer, "(3, '2024-01-03', 'c')")
    if mode == "upsert":
        transfer.rs_execute(f"UPDATE {quoted(transfer.schema)}.{quoted(TABLE)} SET {quoted('v 50%')} = 'b2', "
                            f"{quoted('at %(t)s')} = '2024-01-03' WHERE {quoted('id %s')} = 2")
    code, output = transfer.run("--table", str(source), "--sync-config", str(config))
    assert code == 0, output
    result = transfer.result(source)
    assert result["status"] == "succeeded" and result["sync_mode"] == mode
    assert result["watermark_to"] == "2024-01-03 00:00:00"
    assert _target_rows(transfer, target) == _source_rows(transfer)


def test_every_r2a_cursor_keeps_the_percent_of_composed_names(transfer):
    """What the steps' connections rely on; psycopg2's own cursor is shown to get the same query wrong."""
    table = sql.Identifier(transfer.schema, "t 100% %s %(x)s")
    create = sql.SQL("CREATE TABLE {} ({} text)").format(table, sql.Identifier("c %s"))
    insert = sql.SQL("INSERT INTO {} VALUES (%s), ({})").format(table, sql.Literal("lit %s 5%"))
    select = sql.SQL("SELECT {} FROM {} WHERE {} <> %(skip)s ORDER BY 1").format(
        sql.Identifier("c %s"), table, sql.Identifier("c %s"))
    conn = psycopg2.connect(transfer.alloydb_dsn)
    try:
        with conn.cursor() as plain:
            plain.execute(create)
            with pytest.raises((IndexError, ValueError, TypeError, KeyError)):
                plain.execute(insert, ("bound %s",))
        conn.rollback()
        with conn.cursor(cursor_factory=ComposedSafeCursor) as cur:
            cur.execute(create)
            cur.execute(insert, ("bound %s",))
            cur.executemany(sql.SQL("INSERT INTO {} VALUES (%s)").format(table), [("many 1%",), ("skip",)])
            assert b"'lit %s 5%'" in cur.mogrify(insert, ("x",))
            cur.execute(select, {"skip": "skip"})
            assert cur.fetchall() == [("bound %s",), ("lit %s 5%",), ("many 1%",)]
    finally:
        conn.rollback()
        conn.close()


def test_a_table_named_with_argo_tags_moves_by_the_item_its_fan_out_lists(transfer):
    """A name holding `{{` goes into the fan-out list in base64 (shared/loader_items.py): Argo would read a tag in
    it on a later substitution pass. The item the list holds is what the pod gets as --table."""
    from shared.loader_items import list_json

    name = "t{{workflow.name}} {{inputs.parameters.item}}"
    source, target = transfer.table(name, [("id", "integer")])
    transfer.rs_execute(f"INSERT INTO {quoted(transfer.schema)}.{quoted(name)} VALUES (1), (2)")
    [item] = json.loads(list_json([str(source)]))
    assert "{{" not in item and "}}" not in item
    code, output = transfer.run("--table", item)
    assert code == 0, output
    assert transfer.result(source)["table"] == str(source)
    assert transfer.pg_rows(f"SELECT id FROM {quoted(target.schema)}.{quoted(target.table)} ORDER BY 1") == [(1,), (2,)]
