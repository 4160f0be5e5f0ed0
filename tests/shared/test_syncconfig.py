"""The sync config: parsing (one-line errors naming file and entry), the JSON Schema, and `r2a sync-config init`
from a catalog."""

from __future__ import annotations

import json
from decimal import Decimal

import jsonschema
import pytest
from typer.testing import CliRunner

from shared.errors import BadInputError
from shared.syncconfig import JSON_SCHEMA, TableSync, initial_config, parse, parse_text, read_config
from workflows.cli import app

CATALOG = {"tables": [
    {"schema": "sales", "name": "orders", "columns": [
        {"name": "order_id", "type": "integer"}, {"name": "updated_at", "type": "timestamp without time zone"}],
     "constraints": [{"name": "orders_pkey", "kind": "primary_key", "columns": ["order_id"]}]},
    {"schema": "sales", "name": "events", "columns": [
        {"name": "event_id", "type": "bigint", "identity": {"seed": 1, "step": 1}},
        {"name": "payload", "type": "character varying(256)"}]},
    {"schema": "sales", "name": "audit", "columns": [{"name": "note", "type": "character varying(256)"}]},
    {"schema": "sales", "name": "loads", "columns": [
        {"name": "load_tstamp", "type": "timestamp without time zone"}, {"name": "v", "type": "integer"}]},
]}


def test_init_proposes_upsert_append_and_full_with_the_reason():
    config = initial_config(CATALOG)
    assert config.tables == {"sales.orders": TableSync("upsert", "updated_at", ("order_id",)),
                             "sales.events": TableSync("append", "event_id")}
    assert config.notes["sales.audit"].startswith("stays full: no identity column and no timestamp column")
    assert "no declared primary key" in config.notes["sales.loads"]
    jsonschema.validate(config.to_dict(), JSON_SCHEMA)
    assert parse(json.loads(config.to_json()), "x") == config  # what init writes, a run reads back


def test_a_hostile_table_name_reads_back_from_the_starting_file_that_stays_line_safe():
    hostile = {"tables": [{"schema": "s\u2028x", "name": "t\x9b2J\x85", "columns": [
        {"name": "id", "type": "bigint", "identity": {"seed": 1, "step": 1}}]}]}
    text = initial_config(hostile).to_json()
    assert not any(c in text for c in "\u2028\x9b\x85") and "\\u2028" in text
    assert parse(json.loads(text), "x").tables == {"s\u2028x.t\x9b2J\x85": TableSync("append", "id")}


def test_the_cli_writes_the_starting_file(tmp_path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG))
    out = tmp_path / "sync.json"
    done = CliRunner().invoke(app, ["sync-config", "init", "--catalog", str(catalog), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert read_config(str(out)).for_table("sales.orders").mode == "upsert"
    assert read_config(str(out)).for_table("sales.nowhere") == TableSync()  # not named: full
    done = CliRunner().invoke(app, ["sync-config", "init", "--catalog", str(tmp_path / "missing.json")])
    assert done.exit_code == 3 and "no such file" in done.output and "Traceback" not in done.output


def test_yaml_is_read_and_lag_is_a_number():
    config = parse_text("tables:\n  s.t: {mode: append, cursor: id, lag: 100}\n", "sync.yaml")
    assert config.for_table("s.t") == TableSync("append", "id", (), Decimal(100))


@pytest.mark.parametrize("document, message, schema_refuses", [
    ({"tables": {"s.t": {"mode": "merge"}}}, "tables['s.t'].mode 'merge' is not one of full, append, upsert", True),
    ({"tables": {"s.t": {"mode": "append"}}}, "mode append needs a cursor column", False),
    ({"tables": {"s.t": {"mode": "upsert", "cursor": "c", "key": []}}}, "key must be a non-empty list", True),
    ({"tables": {"s.t": {"mode": "append", "cursor": "c", "lag": -1}}}, "lag must be a number >= 0", False),
    ({"tables": {"s.t": {"mode": "append", "cursor": "c", "lag": "soon"}}}, "lag 'soon' is not a number", False),
    ({"tables": {"s.t": {"mode": "append", "cursor": "c", "extra": 1}}}, "unknown keys: extra", True),
    ({"tables": {}, "default_mode": "append"}, "default_mode must be full", True),
    ({"tables": {"s.t": {"mode": "append", "cursor": "c", "mirror_deletes": True}}}, "true only with mode upsert",
     False),
    ({"tables": {"s.t": {"mode": "upsert", "cursor": "c", "mirror_deletes": "yes"}}}, "must be true or false",
     True),
    ({"tables": []}, "expected an object with a 'tables' object", True),
])
def test_a_bad_entry_is_one_line_naming_the_file_and_the_entry(document, message, schema_refuses):
    with pytest.raises(BadInputError) as raised:
        parse(document, "gs://b/sync.json")
    assert message in str(raised.value) and str(raised.value).startswith("gs://b/sync.json")
    # the schema checks the shape (for editors and the UI); parse checks the values too
    assert schema_refuses == (not jsonschema.Draft202012Validator(JSON_SCHEMA).is_valid(document))
