"""The run folder's documents (shared/documents): each reads what its writer writes, writes it back unchanged, and
satisfies its JSON Schema; a malformed document is one line naming the file and the place. The demo's whole run
folder goes through the same check in tests/workflows/test_demo.py."""

import json

import pytest

from shared.documents.batch import Batch
from shared.documents.name_map import NameMap
from shared.documents.tables import PlannedTable, TablePlan
from shared.errors import BadInputError
from shared.layout import RunLayout
from steps.load_schema.tables import name_map_tables
from steps.table_transfer.plan import table_spec
from tests.rewrite_ddl.conftest import rewrite
from tests.rewrite_ddl.sample import sample_catalog
from tests.support.documents import check_document, definition_of

LAYOUT = RunLayout("dev_20250304_050607", gcs_bucket="art")
COLUMN = {"source": "Id", "target": "id", "unload_expression": '"Id"', "target_type": "integer",
          "source_type": "integer", "nullable": False}
NAME_MAP = {"format_version": 1, "run_id": LAYOUT.run_id, "schemas": {"S": "s"},
            "tables": [{"source": {"schema": "S", "name": "T"}, "target": {"schema": "s", "name": "t"}, "kind": "table",
                        "estimated_rows": 3, "size_mb": 1.5, "columns": [COLUMN]}]}


def test_name_map_to_tables_json_round_trips_and_satisfies_both_schemas():
    [mapped] = NameMap.from_json(NAME_MAP, "name_map.json").carried_tables()
    plan = TablePlan.largest_first(LAYOUT.run_id, [PlannedTable.from_mapped(mapped)])
    tables = plan.to_json()
    assert tables["tables"][0]["table"] == '"S"."T"' and tables["tables"][0]["target"] == "s.t"
    assert check_document(definition_of(LAYOUT, LAYOUT.name_map_json), NAME_MAP, "name_map.json") == []
    assert check_document(definition_of(LAYOUT, LAYOUT.tables_json), tables, "tables.json") == []
    assert TablePlan.from_json(tables, "tables.json") == plan


def test_a_batch_round_trips():
    batch = Batch(LAYOUT.run_id, "batch-0007", ("s.a", '"S".b'))
    assert check_document(definition_of(LAYOUT, LAYOUT.batch("batch-0007")), batch.to_json(), "b") == []
    assert Batch.from_json(batch.to_json(), "b") == batch


def test_a_field_the_dataclass_does_not_know_is_caught():
    extended = {**NAME_MAP, "tables": [{**NAME_MAP["tables"][0], "columns": [{**COLUMN, "rule": "int4"}]}]}
    problems = check_document(definition_of(LAYOUT, LAYOUT.name_map_json), extended, "name_map.json")
    assert any("'rule' was unexpected" in p for p in problems)
    assert any("changed by its dataclass: $.tables[0].columns[0].rule" in p for p in problems)


@pytest.mark.parametrize("document", [{"tables": "s.t"}, {"tables": ["s.t"]}, {"batch_id": "b", "tables": [1]}])
def test_a_malformed_batch_names_the_file(document):
    with pytest.raises(BadInputError) as caught:
        Batch.from_json(document, "b")
    assert caught.value.one_line() == "b: expected an object with 'batch_id' and a 'tables' list of names"


def test_rewrite_ddls_name_map_is_read_by_load_schema_and_its_tables_json_by_table_transfer():
    """The writer and both readers share the one definition: rewrite_ddl's name_map.json satisfies the schema and
    round-trips; load_schema's tables.json from it does too, and table_transfer reads each of its entries."""
    name_map = json.loads(rewrite(sample_catalog()).files["name_map.json"])
    assert name_map["tables"] and check_document(definition_of(LAYOUT, LAYOUT.name_map_json), name_map, "n") == []
    plan = TablePlan.largest_first(LAYOUT.run_id, name_map_tables(name_map, "n"))
    assert check_document(definition_of(LAYOUT, LAYOUT.tables_json), plan.to_json(), "t") == []
    specs = [table_spec(entry, f"t: tables[{n}]") for n, entry in enumerate(plan.to_json()["tables"])]
    assert [(s.source, s.target, len(s.columns)) for s in specs] == \
        [(t.source, t.target, len(t.columns)) for t in plan.tables]


VERSIONED = [(NameMap, NAME_MAP), (TablePlan, {"format_version": 1, "run_id": "r", "tables": []}),
             (Batch, {"format_version": 1, "run_id": "r", "batch_id": "batch-0001", "tables": []})]


@pytest.mark.parametrize(("definition", "document"), VERSIONED)
@pytest.mark.parametrize("version", [0, 2, "1", True])
def test_a_document_of_another_format_version_is_one_clear_line(definition, document, version):
    """A file written by another r2a version is refused by its version, before its fields are read (version 2's
    fields may mean something else)."""
    with pytest.raises(BadInputError) as caught:
        definition.from_json({**document, "format_version": version, "tables": "changed in version 2"}, "f.json")
    assert caught.value.one_line() == (f"f.json: format_version {str(version)!r} is not 1, the only one this r2a "
                                       "reads. Run the step that writes it again with this r2a version")
    assert definition.from_json(document, "f.json").to_json() == document
