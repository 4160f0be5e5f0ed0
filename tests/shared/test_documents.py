"""The run folder's documents (shared/documents): each reads what its writer writes, writes it back unchanged, and
satisfies its JSON Schema; a malformed document is one line naming the file and the place. The demo's whole run
folder goes through the same check in tests/workflows/test_demo.py."""

import json
import re

import pytest

from shared.documents.batch import Batch
from shared.documents.catalog import Catalog
from shared.documents.claim import Claim
from shared.documents.fanout import Fanout
from shared.documents.name_map import NameMap
from shared.documents.objects import CHANGES, STATUSES, ObjectOutcome, ObjectsReport
from shared.documents.progress import PreDataProgress
from shared.documents.readiness import NotMigratedCount, PostDataState, Readiness, TableReadiness
from shared.documents.run_plan import RunPlan
from shared.documents.summary import NotMigrated, Summary, Totals
from shared.documents.tables import PlannedTable, TablePlan
from shared.errors import BadInputError
from shared.identifiers import TableRef
from shared.layout import RunLayout
from shared.objects_report import ObjectReport, object_report
from shared.plan_text import plan_lines
from shared.sqlblocks import SqlObject
from steps.dump_schema.assemble import Filters, build_catalog
from steps.dump_schema.core import check_catalog
from steps.load_schema.fanout import plan_fanout
from steps.load_schema.tables import name_map_tables
from steps.plan.core import Sample, build_plan
from steps.report.plan_section import plan_summary
from steps.table_transfer.plan import table_spec
from tests.dump_schema.test_assemble import rows as catalog_rows
from tests.dump_schema.test_assemble import shows as catalog_shows
from tests.rewrite_ddl.conftest import rewrite
from tests.rewrite_ddl.sample import sample_catalog
from tests.support.documents import check_document, definition_of, validator

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


def test_dump_schemas_catalog_round_trips_key_for_key_and_rewrite_ddl_reads_it():
    """build_catalog's document from catalog rows (tests/dump_schema's sample) goes through Catalog unchanged."""
    catalog = build_catalog(catalog_rows(), catalog_shows(), Filters(), LAYOUT.run_id, "2026-01-01T00:00:00Z")
    assert catalog["tables"] and catalog["views"] and catalog["functions"]
    assert check_document(definition_of(LAYOUT, LAYOUT.catalog_json), catalog, "c") == []
    assert check_catalog(catalog).to_json() == catalog
    assert Catalog.from_json(catalog, "c").tables[0].columns[0].position == 1


def test_pre_datas_fanout_round_trips_with_its_tables_alone_and_its_batches():
    tables = [{"table": f"s.t{n:04d}", "size_mb": 400 - n, "estimated_rows": 1} for n in range(400)]
    plan = plan_fanout(tables)
    fanout = Fanout(LAYOUT.run_id, tuple(plan.items))
    assert check_document(definition_of(LAYOUT, LAYOUT.fanout_json), fanout.to_json(), "f") == []
    assert Fanout.from_json(fanout.to_json(), "f") == fanout and "batch-0001" in fanout.items
    with pytest.raises(BadInputError, match="f: expected an object with an 'items' list"):
        Fanout.from_json({"items": plan.items + [""]}, "f")


def test_pre_datas_progress_round_trips_and_a_malformed_one_names_the_file():
    progress = PreDataProgress(LAYOUT.run_id, ("s.a", "s.b"))
    assert check_document(definition_of(LAYOUT, LAYOUT.pre_data_progress_json), progress.to_json(), "p") == []
    assert PreDataProgress.from_json(progress.to_json(), "p") == progress
    with pytest.raises(BadInputError, match="p: expected an object with a 'created_tables' list of names"):
        PreDataProgress.from_json({"run_id": "r", "created_tables": ["s.a", 7]}, "p")


def test_the_plan_steps_plan_round_trips_and_feeds_r2a_plan_and_the_report():
    tables = [{"table": "s.big", "target": "s.big", "rows": 1000, "size_mb": 9.5, "columns": ["a"]},
              {"table": "s.small", "target": "s.small", "rows": 10, "size_mb": 0.1, "columns": ["a"]}]
    plan = build_plan(LAYOUT.run_id, tables, {"s.big": Sample(100, 2000, 500)}, {"s.small": "permission denied"},
                      [], 3, "zstd", 8, 4, 2.0)
    document = plan.to_json()
    assert check_document(definition_of(LAYOUT, LAYOUT.plan_json), document, "p") == []
    assert RunPlan.from_json(document, "p") == plan and document["tables"][1]["sample_error"] == "permission denied"
    assert plan_lines(document)[0].startswith(f"plan of run {LAYOUT.run_id}: 2 tables, 1,010 rows")
    assert plan_summary(document, 60.0)["largest_tables"][0] == {"table": "s.big", "rows": 1000, "size_mb": 9.5,
                                                                 "s3_bytes": 5000}
    assert plan_summary({**document, "tables": "changed"}, 60.0) is None


def test_rewrite_report_round_trips_with_every_status_rewrite_ddl_writes():
    report = json.loads(rewrite(sample_catalog()).files["rewrite_report.json"])
    assert {o["status"] for o in report["objects"]} >= {"converted", "converted_with_changes", "unsupported"}
    assert check_document(definition_of(LAYOUT, LAYOUT.rewrite_report_json), report, "r") == []
    assert ObjectsReport.from_json(report, "r").counts == report["counts"]


def test_load_schemas_reports_keep_their_details_and_their_steps_fields():
    key = SqlObject("constraint", "s.t.fk", "ALTER TABLE ...", "s.t.fk", ("s.t", "s.u"))
    reports = [ObjectReport.of(key, "not_valid", "2 row(s) reference keys missing", violations=2),
               ObjectReport.of(key, "deferred", "waits for the load of s.u", waits_for=["s.u"]),
               ObjectReport("table", "s.t", "s.t", "unchanged", "already there", [], {"kept": True, "change": "unchanged"})]
    document = object_report(LAYOUT.run_id, "post-data", reports, analyzed=1, deferred_tables=["s.u"]).to_json()
    assert document["counts"] == {"deferred": 1, "not_valid": 1, "unchanged": 1}
    assert document["analyzed"] == 1 and document["objects"][0]["violations"] == 2
    assert check_document(definition_of(LAYOUT, LAYOUT.post_data_report_json), document, "p") == []
    assert [o.not_migrated for o in ObjectsReport.from_json(document, "p").objects] == [False, True, False]


def test_the_schema_and_the_module_hold_one_status_vocabulary():
    """rewrite_ddl, validate_restore and load_schema write statuses of one list; the JSON Schema lists the same."""
    schema = validator("objects_report").schema["$defs"]
    assert schema["status"]["enum"] == list(STATUSES)
    assert schema["outcome"]["properties"]["change"]["enum"] == list(CHANGES)


@pytest.mark.parametrize(("entry", "message"), [
    ({"kind": "view", "name": "s.v", "status": "done"}, "r: objects[0].status 'done' is not one of converted, "),
    ({"kind": "view", "status": "applied"}, "r: objects[0].name must be a non-empty string"),
    ({"kind": "view", "name": "s.v", "status": "applied", "depends_on": "s.t"}, "r: objects[0].depends_on must be"),
])
def test_a_malformed_object_entry_names_the_file_and_the_place(entry, message):
    with pytest.raises(BadInputError, match=re.escape(message)):
        ObjectsReport.from_json({"run_id": "r", "step": "load_schema", "objects": [entry], "counts": {}}, "r")


def test_an_object_outcome_round_trips():
    outcome = ObjectOutcome("view", "s.v", "s.v", "converted_with_changes", None, ("s.t",), ("renamed",))
    assert ObjectOutcome.from_json(outcome.to_json(), "x") == outcome


def test_a_transfer_claim_round_trips_and_a_malformed_one_names_the_file_and_the_field():
    url = LAYOUT.claim(TableRef("s", "t"), 3)
    claim = Claim(LAYOUT.run_id, "s.t", 3, "2026-01-02T03:04:05.000Z")
    assert check_document(definition_of(LAYOUT, url), claim.to_json(), url) == []
    assert Claim.from_json(claim.to_json(), url) == claim
    with pytest.raises(BadInputError) as caught:
        Claim.from_json({**claim.to_json(), "attempt": "3"}, url)
    assert caught.value.one_line() == f"{url}: attempt must be a whole number from 1"
    with pytest.raises(BadInputError, match=re.escape(f"{url}: claimed_at must be a non-empty string")):
        Claim.from_json({**claim.to_json(), "claimed_at": None}, url)


SUMMARY = Summary(
    LAYOUT.run_id, "2026-01-02T03:04:05.000Z", True, True, 1, {"succeeded": 1, "failed": 0, "skipped": 0, "not_run": 0},
    {"succeeded": 1, "failed": 0, "skipped": 0, "not_run": 0}, 0, Totals(10, 10, 120, 400, 1.5, 2.25, {"load": 1.0}),
    "2026-01-02T03:04:00.000Z", "2026-01-02T03:04:02.250Z",
    steps=({"step": "report", "status": "succeeded", "started_at": "2026-01-02T03:04:00.000Z",
            "finished_at": "2026-01-02T03:04:02.250Z", "duration_s": 2.25, "counts": {"tables": 1}, "error": None},),
    slowest_tables=({"table": "s.t", "status": "succeeded", "duration_s": 1.5, "rows_loaded": 10},),
    objects_not_migrated=NotMigrated(1, {"view": 1}, ({"kind": "view", "stage": "rewrite_ddl", "status": "unsupported",
                                                       "reason": "depends on s.geo", "count": 1},)),
    schema_backups={"schema_redshift.sql": True})


def test_the_reports_summary_round_trips_and_satisfies_its_schema():
    document = json.loads(json.dumps(SUMMARY.to_json()))
    assert check_document(definition_of(LAYOUT, LAYOUT.summary_json), document, "summary.json") == []
    assert Summary.from_json(document, "summary.json") == SUMMARY


@pytest.mark.parametrize(("change", "message"), [
    ({"counts": {"succeeded": 1}}, "counts must count each of succeeded, failed, skipped, not_run"),
    ({"totals": {**SUMMARY.totals.to_json(), "rows_loaded": -1}}, "totals.rows_loaded must be a non-negative whole"),
    ({"objects_not_migrated": {"total": 1, "by_kind": {"view": "1"}, "by_reason": []}},
     "objects_not_migrated.by_kind.view must be a non-negative whole number"),
    ({"failed_tables": [{"table": "s.t"}, "s.u"]}, "failed_tables[1] must be an object"),
    ({"steps": None}, "steps must be a list of objects"),
    ({"plan_found": "yes"}, "plan_found must be true or false"),
])
def test_a_malformed_summary_is_one_line_naming_the_file_and_the_place(change, message):
    with pytest.raises(BadInputError) as caught:
        Summary.from_json({**SUMMARY.to_json(), **change}, "gs://art/r/report/summary.json")
    assert caught.value.one_line().startswith(f"gs://art/r/report/summary.json: {message}")


READINESS = Readiness("r", False, (TableReadiness("sales.orders", True, "", "upsert", "2026-01-02 02:59:00", 3600.0),
                                   TableReadiness("hr.people", False, "no result: the transfer did not run", "", None,
                                                  None)),
                      PostDataState("partial", ""), NotMigratedCount(3, {"view": 2, "function": 1}))


def test_the_readiness_verdict_round_trips_and_satisfies_its_schema():
    document = json.loads(json.dumps(READINESS.to_json()))
    assert check_document(definition_of(LAYOUT, LAYOUT.readiness_json), document, "readiness.json") == []
    assert Readiness.from_json(document, "readiness.json") == READINESS
    unknown = Readiness("r", False, (), PostDataState("not_run", ""), NotMigratedCount()).to_json()
    assert check_document(definition_of(LAYOUT, LAYOUT.readiness_json), unknown, "readiness.json") == []


@pytest.mark.parametrize(("change", "message"), [
    ({"ready": "no"}, "ready must be true or false"),
    ({"tables": [{"table": "s.t", "in_sync": 1, "reason": "", "mode": "full"}]}, "tables[0].in_sync must be true or false"),
    ({"post_data": {"status": "failed"}}, "post_data must be an object with status and error"),
    ({"objects_not_migrated": {"total": -1, "by_kind": {}}},
     "objects_not_migrated.total must be a non-negative whole number"),
])
def test_a_malformed_readiness_verdict_is_one_line_naming_the_file_and_the_place(change, message):
    with pytest.raises(BadInputError) as caught:
        Readiness.from_json({**READINESS.to_json(), **change}, "gs://art/r/report/readiness.json")
    assert caught.value.one_line().startswith(f"gs://art/r/report/readiness.json: {message}")


VERSIONED = [(NameMap, NAME_MAP), (TablePlan, {"format_version": 1, "run_id": "r", "tables": []}),
             (Batch, {"format_version": 1, "run_id": "r", "batch_id": "batch-0001", "tables": []}),
             (ObjectsReport, {"format_version": 1, "run_id": "r", "step": "rewrite_ddl", "objects": [],
                              "counts": {}}),
             (Fanout, {"format_version": 1, "run_id": "r", "items": []}),
             (Catalog, Catalog("r", [], []).to_json()),
             (PreDataProgress, {"format_version": 1, "run_id": "r", "created_tables": ["s.t"]}),
             (RunPlan, RunPlan("r", "now", (), {}, {}, {}).to_json()),
             (Claim, Claim("r", "s.t", 1, "now").to_json()), (Summary, Summary("r", "now").to_json()),
             (Readiness, READINESS.to_json())]


@pytest.mark.parametrize(("definition", "document"), VERSIONED)
@pytest.mark.parametrize("version", [0, 2, "1", True])
def test_a_document_of_another_format_version_is_one_clear_line(definition, document, version):
    """A file written by another r2a version is refused by its version, before its fields are read (version 2's
    fields may mean something else)."""
    with pytest.raises(BadInputError) as caught:
        definition.from_json({**document, "format_version": version, "tables": "changed in version 2",
                              "objects": "changed in version 2", "items": "changed in version 2",
                              "created_tables": "changed in version 2"}, "f.json")
    assert caught.value.one_line() == (f"f.json: format_version {str(version)!r} is not 1, the only one this r2a "
                                       "reads. Run the step that writes it again with this r2a version")
    assert definition.from_json(document, "f.json").to_json() == document
