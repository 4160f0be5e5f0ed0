"""The pure report: documents in memory → exact .tables and .log lines, summary, exit rule."""

from __future__ import annotations

import json

from shared.documents.summary import Summary
from shared.layout import RunLayout
from steps.report.collect import RawRun, parse_inputs
from steps.report.core import build_report, unfinished_tables
from steps.report.timefmt import parse_ts
from tests.report import sample
from tests.support.documents import check_document, definition_of

LAYOUT = RunLayout(sample.RUN_ID, gcs_bucket="art")


def report_of(documents, unreadable=None, backups=None):
    """The report of `documents`; its summary.json, whatever the case, satisfies the document's schema and reads
    back through shared/documents/summary.py as the summary the report was rendered from."""
    raw = RawRun(sample.RUN_ID, documents, unreadable or {})
    report = build_report(raw, parse_ts(sample.REPORT_TIME), backups or {"schema_redshift.sql": b"-- rs\n",
                                                                         "schema_alloydb.sql": None})
    written = json.loads(report.files["summary.json"])
    assert check_document(definition_of(LAYOUT, LAYOUT.summary_json), written, "summary.json") == []
    assert Summary.from_json(written, "summary.json") == report.summary
    return report


def lines(report, name):
    return report.files[name].decode().splitlines()


def test_tables_file_lists_every_case_exactly():
    report = report_of(sample.documents())
    assert lines(report, f"{sample.RUN_ID}.tables") == sample.EXPECTED_TABLES
    assert not report.all_planned_succeeded


def test_log_file_has_every_flow_event_oldest_first():
    report = report_of(sample.documents())
    assert lines(report, f"{sample.RUN_ID}.log") == sample.expected_log()


def test_summary_counts_totals_and_dropped_objects():
    summary = json.loads(report_of(sample.documents()).files["summary.json"])
    assert summary["counts"] == {"succeeded": 2, "failed": 1, "skipped": 3, "not_run": 1}
    assert summary["planned_counts"] == {"succeeded": 2, "failed": 1, "skipped": 0, "not_run": 1}
    assert summary["retried_tables"] == 1
    assert summary["totals"]["rows_loaded"] == 1050
    assert summary["totals"]["bytes_compressed"] == 2560
    assert summary["totals"]["wall_time_s"] == 23.0
    assert summary["totals"]["phase_time_s"] == {"copy": 2.0, "load": 7.0, "unload": 5.5, "verify": 0.5}
    assert [t["table"] for t in summary["slowest_tables"]][:3] == ["public.sales", "public.customers",
                                                                   "public.events"]
    assert [t["table"] for t in summary["failed_tables"]] == ["public.events", "public.ghost"]
    assert summary["objects_not_migrated"]["by_kind"] == {"table": 3, "view": 1}
    assert summary["constraint_violations"] == [
        {"name": "public.orders_customer_fkey", "target_name": "public.orders_customer_fkey",
         "status": "not_valid", "violations": 3, "reason": "3 rows violate it; kept NOT VALID"}]
    assert summary["schema_backups"] == {"schema_alloydb.sql": False, "schema_redshift.sql": True}


def test_backups_are_copied_only_when_present():
    report = report_of(sample.documents())
    assert report.files["schema_redshift.sql"] == b"-- rs\n"
    assert "schema_alloydb.sql" not in report.files


def test_every_planned_table_succeeded_means_success():
    documents = sample.documents()
    plan = documents["tables.json"]["tables"]
    documents["tables.json"]["tables"] = [e for e in plan if e["table"] in ("public.sales", "public.customers")]
    report = report_of(documents)
    assert report.all_planned_succeeded
    assert lines(report, f"{sample.RUN_ID}.log")[-1] == "\t".join(
        [sample.REPORT_TIME, "report", "-", "-", "finished", "-",
         "planned=2 succeeded=2 failed=0 skipped=0 not_run=0"])


def test_no_plan_is_a_failure_even_without_failed_results():
    documents = {k: v for k, v in sample.documents().items() if k != "tables.json"}
    report = report_of(documents)
    assert not report.all_planned_succeeded
    assert "no tables.json" in report.verdict()
    assert lines(report, f"{sample.RUN_ID}.log")[-1].endswith("failed\t-\tno plan: tables.json is missing")


def test_a_broken_result_file_fails_its_table_and_is_reported():
    documents = sample.documents()
    documents["results/public.sales.json"] = dict(documents["results/public.sales.json"], rows_loaded=-1)
    del documents["results/public.customers.json"]
    report = report_of(documents, unreadable={"results/public.customers.json": "not valid JSON: x"})
    rows = {line.split("\t")[0]: line.split("\t") for line in lines(report, f"{sample.RUN_ID}.tables")}
    assert rows["public.sales"][2] == "failed"
    assert rows["public.sales"][10].startswith("invalid result file results/public.sales.json: ")
    assert rows["public.customers"][2] == "failed"
    summary = json.loads(report.files["summary.json"])
    assert {p["path"] for p in summary["input_problems"]} == {"results/public.sales.json",
                                                             "results/public.customers.json"}


def test_a_result_of_another_run_is_refused():
    documents = sample.documents()
    documents["results/public.sales.json"]["run_id"] = "other_20250101_000000"
    inputs = parse_inputs(RawRun(sample.RUN_ID, documents))
    assert "public.sales" not in inputs.results
    assert "belongs to run 'other_20250101_000000'" in inputs.invalid_results["results/public.sales.json"]


def test_field_values_never_break_the_tab_separated_layout():
    documents = sample.documents()
    documents["results/public.events.json"]["error"]["message"] = "line one\tcolumn two"
    row = [line for line in lines(report_of(documents), f"{sample.RUN_ID}.tables")
           if line.startswith("public.events")][0]
    assert row.split("\t")[10] == "TargetError: line one column two"


def test_a_hostile_table_name_stays_in_its_cell_of_the_tables_and_log_files():
    documents = sample.documents()
    documents["results/public.events.json"]["table"] = "public.ev\nents\tx\x1b"
    report = report_of(documents)
    for name, width in ((f"{sample.RUN_ID}.tables", 19), (f"{sample.RUN_ID}.log", 7)):
        text = report.files[name].decode()
        assert "\x1b" not in text and all(len(line.split("\t")) == width for line in text.splitlines()), name
        assert any(line.split("\t")[0 if width == 19 else 2] == 'public."ev\\nents\\tx\\u001b"'
                   for line in text.splitlines()), name


def test_html_is_self_contained_and_lists_failed_tables():
    html = report_of(sample.documents()).files["report.html"].decode()
    assert "http://" not in html and "https://" not in html and "<link" not in html
    assert 'id="failed-tables"' in html
    failed = html[html.index('id="failed-tables"'):html.index('id="objects"')]
    assert "public.events" in failed and "value too long" in failed and "public.ghost" in failed
    assert "public.sales" not in failed
    data = json.loads(html.split('id="report-data">')[1].split("</script>")[0])
    assert len(data["tables"]) == 7 and data["phases"][:2] == ["apply", "unload"]


def test_html_escapes_names_and_errors():
    documents = sample.documents()
    documents["results/public.events.json"]["error"]["message"] = "<script>alert(1)</script>"
    html = report_of(documents).files["report.html"].decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html


def test_an_incremental_sync_shows_its_mode_watermarks_and_row_changes_in_the_last_columns():
    documents = sample.documents()
    documents["results/public.sales.json"].update(sync_mode="upsert", watermark_from="2024-01-01 00:00:00",
                                                  watermark_to="2024-01-02 00:00:00", rows_inserted=5,
                                                  rows_updated=2, rows_deleted=0)
    rows = {line.split("\t")[0]: line.split("\t") for line in lines(report_of(documents), f"{sample.RUN_ID}.tables")}
    assert rows["public.sales"][12:] == ["upsert", "2024-01-01 00:00:00", "2024-01-02 00:00:00", "5", "2", "0", ""]
    assert rows["public.sales"][:12] == sample.EXPECTED_TABLES[1].split("\t")[:12]
    assert rows["public.customers"][12:] == [""] * 7
    assert json.loads(report_of(documents).files["summary.json"])["synced_tables"] == [
        {"table": "public.sales", "status": "succeeded", "mode": "upsert", "watermark_from": "2024-01-01 00:00:00",
         "watermark_to": "2024-01-02 00:00:00", "rows_inserted": 5, "rows_updated": 2, "rows_deleted": 0}]


def test_report_html_has_an_incremental_sync_section_only_when_the_run_synced():
    assert 'id="sync"' not in report_of(sample.documents()).files["report.html"].decode()
    documents = sample.documents()
    documents["results/public.sales.json"].update(sync_mode="append", watermark_from="41", watermark_to="<b>57",
                                                  rows_inserted=16, rows_updated=0, rows_deleted=0)
    documents["results/public.customers.json"]["sync_note"] = "not named in the sync config"
    html = report_of(documents).files["report.html"].decode()
    section = html[html.index('<section id="sync">'):]
    section = section[:section.index("</section>")]
    synced = section[section.index('id="synced-tables"'):section.index('id="full-despite-sync-config"')]
    assert [cell.split(">", 1)[1].split("</td>")[0] for cell in synced.split("<td")[1:]] == [
        "public.sales", "succeeded", "append", "41", "&lt;b&gt;57", "16", "0", "0"]
    assert "public.customers" in section and "not named in the sync config" in section


def test_a_table_loaded_in_full_by_a_run_with_a_sync_config_says_why():
    documents = sample.documents()
    documents["results/public.customers.json"]["sync_note"] = "stays full: no identity or timestamp\tcolumn"
    report = report_of(documents)
    rows = {line.split("\t")[0]: line.split("\t") for line in lines(report, f"{sample.RUN_ID}.tables")}
    assert rows["public.customers"][12:] == ["", "", "", "", "", "", "stays full: no identity or timestamp column"]
    assert json.loads(report.files["summary.json"])["full_despite_sync_config"] == [
        {"table": "public.customers", "reason": "stays full: no identity or timestamp\tcolumn"}]


def test_a_source_changed_during_the_run_is_noted_on_its_succeeded_table():
    documents = sample.documents()
    documents["results/public.sales.json"]["rows_source_after"] = 1007  # other sessions inserted 7 rows meanwhile
    documents["results/public.customers.json"]["rows_source_after"] = 50
    rows = {line.split("\t")[0]: line.split("\t") for line in lines(report_of(documents), f"{sample.RUN_ID}.tables")}
    assert rows["public.sales"][2] == "succeeded"
    assert rows["public.sales"][10] == ("note: source changed during the run: 1000 rows at the UNLOAD (loaded and "
                                        "verified), 1007 in the source afterwards")
    assert rows["public.customers"][10] == ""
    summary = json.loads(report_of(documents).files["summary.json"])
    assert summary["source_changed_tables"] == [{"table": "public.sales", "rows_source": 1000,
                                                 "rows_source_after": 1007}]


def test_tables_finished_after_post_data_and_deferred_keys_are_shown():
    documents = sample.documents()
    post_data = documents["post_data_report.json"]
    post_data["objects"].append({"kind": "constraint", "name": "public.events_pkey", "target_name": "public.events_pkey",
                                 "status": "deferred", "reason": "waits for the load of public.events",
                                 "waits_for": ["public.events"]})
    post_data["finished_after_post_data"] = [{
        "table": "public.customers", "target": "public.customers", "finished_at": "2026-01-01T00:00:30.000Z",
        "objects": [{"kind": "constraint", "name": "public.customers_pkey", "status": "applied"}],
        "sequences": [], "analyzed": True,
        "materialized_views_refreshed": [{"materialized_view": "public.<b>mv</b>", "status": "applied"}]}]
    report = report_of(documents)
    summary = json.loads(report.files["summary.json"])
    assert summary["finished_after_post_data"] == [{
        "table": "public.customers", "target": "public.customers", "finished_at": "2026-01-01T00:00:30.000Z",
        "objects": [{"kind": "constraint", "name": "public.customers_pkey", "status": "applied"}],
        "sequences_reseeded": 0, "analyzed": True,
        "materialized_views_refreshed": [{"materialized_view": "public.<b>mv</b>", "status": "applied"}]}]
    assert summary["objects_not_migrated"]["by_kind"] == {"constraint": 1, "table": 3, "view": 1}
    html = report.files["report.html"].decode()
    finished = html[html.index('id="finished-late"'):html.index('id="tables"')]
    assert "public.customers_pkey applied" in finished and "public.&lt;b&gt;mv&lt;/b&gt; applied" in finished


def test_a_clean_run_shows_no_table_finished_after_post_data():
    report = report_of(sample.documents())
    assert json.loads(report.files["summary.json"])["finished_after_post_data"] == []
    assert 'id="finished-late"' not in report.files["report.html"].decode()


def test_a_refresh_run_says_per_table_and_object_what_changed():
    documents = sample.documents()
    documents["load_report.json"]["on_existing"] = "refresh"
    documents["load_report.json"]["objects"] += [
        {"kind": "table", "name": "public.sales", "target_name": "public.sales", "status": "unchanged",
         "kept": True, "change": "refreshed", "reason": "created by r2a run r1; kept, data refreshed"},
        {"kind": "table", "name": "public.customers", "target_name": "public.customers", "status": "applied",
         "kept": True, "change": "changed", "added_columns": ["email"],
         "reason": "column(s) added in the source, added here: email; data refreshed"},
        {"kind": "table", "name": "public.events", "target_name": "public.events", "status": "applied",
         "change": "created"},
        {"kind": "table", "name": "public.legacy", "target_name": "public.legacy", "status": "dropped_in_source",
         "kept": True, "change": "dropped_in_source", "reason": "no longer in the source; kept in AlloyDB"}]
    documents["post_data_report.json"]["objects"] += [
        {"kind": "view", "name": "public.v_sales", "target_name": "public.v_sales", "status": "applied",
         "change": "changed", "reason": "changed in the source; replaced"},
        {"kind": "materialized_view", "name": "public.mv_totals", "target_name": "public.mv_totals",
         "status": "applied", "change": "refreshed", "reason": "already existed; refreshed"},
        {"kind": "function", "name": "public.f_tax(bigint)", "target_name": "public.f_tax", "status": "applied",
         "change": "created", "arguments": "bigint"},
        {"kind": "function", "name": "public.f_tax(integer)", "target_name": "public.f_tax",
         "status": "dropped_in_source", "kept": True, "change": "dropped_in_source", "arguments": "integer",
         "reason": "no longer in the source; kept in AlloyDB as r2a run r1 left it"}]
    report = report_of(documents)
    rows = {line.split("\t")[0]: line.split("\t") for line in lines(report, f"{sample.RUN_ID}.tables")}
    assert rows["table"][11] == "change" and rows["table"][12:] == sample.SYNC_COLUMNS  # new columns go at the end
    assert {name: row[11] for name, row in rows.items() if name != "table"} == {
        "public.sales": "refreshed", "public.customers": "changed", "public.events": "created", "public.ghost": "",
        'public."Odd Name"': "", "public.bad_defaults": "", "public.geo_shapes": "",
        "public.legacy": "dropped_in_source"}
    assert rows["public.legacy"][2] == "skipped" and rows["public.legacy"][10] == "no longer in the source; kept in AlloyDB"
    summary = json.loads(report.files["summary.json"])
    assert summary["changes"]["counts"] == {"changed": 2, "created": 2, "dropped_in_source": 2, "refreshed": 2}
    assert [(o["kind"], o["name"], o["target_name"], o["change"]) for o in summary["changes"]["objects"]] == [
        ("table", "public.customers", "public.customers", "changed"),
        ("view", "public.v_sales", "public.v_sales", "changed"),
        ("function", "public.f_tax(bigint)", "public.f_tax", "created"),
        ("table", "public.events", "public.events", "created"),
        ("function", "public.f_tax(integer)", "public.f_tax", "dropped_in_source"),
        ("table", "public.legacy", "public.legacy", "dropped_in_source")]
    assert not [o for o in summary["objects_not_migrated"]["by_reason"] if o["kind"] == "function"]  # kept
    assert summary["planned_counts"] == {"succeeded": 2, "failed": 1, "skipped": 0, "not_run": 1}


def test_the_page_carries_each_tables_change_and_lists_changed_views():
    documents = sample.documents()
    documents["load_report.json"]["objects"] += [
        {"kind": "table", "name": "public.sales", "target_name": "public.sales", "status": "unchanged",
         "kept": True, "change": "refreshed"}]
    documents["post_data_report.json"]["objects"].append(
        {"kind": "view", "name": "public.v_sales", "target_name": "public.v_sales", "status": "applied",
         "change": "changed", "reason": "changed in the source; replaced"})
    documents["batches/batch-0001.json"] = {"format_version": 1, "run_id": sample.RUN_ID, "batch_id": "batch-0001",
                                            "tables": ["public.customers", "public.events"]}
    documents["batches/batch-0002.json"] = {"batch_id": "batch-0002", "tables": "public.ghost"}
    report = report_of(documents)
    html = report.files["report.html"].decode()
    data = json.loads(html.split('id="report-data">')[1].split("</script>")[0])
    by_name = {row[0]: row for row in data["tables"]}
    assert by_name["public.sales"][12:] == ["refreshed", "public", 1, ""]  # change, schema, size (MB), batch
    assert by_name["public.events"][12:] == ["", "public", 1, "batch-0001"]
    assert by_name["public.geo_shapes"][12:] == ["", "public", None, ""]  # never planned
    assert {"path": "batches/batch-0002.json", "reason": "expected an object with 'batch_id' and a 'tables' list of names"} \
        in json.loads(report.files["summary.json"])["input_problems"]
    changes = html[html.index('id="changes"'):html.index('id="tables"')]
    assert "public.v_sales" in changes and "changed in the source; replaced" in changes
    assert "public.sales" not in changes.replace("public.v_sales", "")  # tables: the list's change column
    assert 'id="changes"' not in report_of(sample.documents()).files["report.html"].decode()


def test_the_plan_of_a_dry_run_is_shown_beside_the_measured_time_when_the_folder_has_one():
    assert report_of(sample.documents()).summary.plan is None
    assert 'id="run-plan"' not in report_of(sample.documents()).files["report.html"].decode()
    documents = sample.documents()
    documents["plan.json"] = {
        "format_version": 1, "run_id": sample.RUN_ID, "tables": [
            {"table": "public.sales", "target": "public.sales", "rows": 1_000_000, "size_mb": 512.0,
             "text_bytes": 299_999_000, "s3_bytes": 90_000_000, "sampled": True},
            {"table": "public.<b>odd</b>", "target": "public.odd", "rows": 10, "size_mb": 1.0, "text_bytes": 1_000,
             "s3_bytes": 200, "sampled": False}],
        "totals": {"tables": 2, "rows": 1_000_010, "size_mb": 513.0, "text_bytes": 300_000_000,
                   "s3_bytes": 90_000_200, "s3_to_gcs_egress_bytes": 90_000_200},
        "compression": {"codec": "zstd", "ratio": 0.3, "method": "up to 2000 rows of each of the 10 largest tables"},
        "not_migrated": [{"kind": "table", "name": "public.geo_shapes"}],
        "estimate": {"total_s": 754.0, "throttles": {"concurrent_transfers": 8, "index_jobs": 4}}}
    report = report_of(documents)
    plan = report.summary.plan
    assert plan["estimated_s"] == 754.0 and plan["measured_wall_s"] == report.summary.totals.wall_time_s
    assert [t["table"] for t in plan["largest_tables"]] == ["public.sales", "public.<b>odd</b>"]
    html = report.files["report.html"].decode()
    section = html[html.index('id="run-plan"'):html.index('id="failed"')]
    assert "90.0 MB" in section and "12m34s" in section and "1,000,000" in section
    assert "public.&lt;b&gt;odd&lt;/b&gt;" in section and "<b>odd" not in section
    documents["plan.json"] = ["not", "a", "plan"]
    assert report_of(documents).summary.plan is None


def test_the_retry_list_gives_a_big_unfinished_table_its_further_loader_items():
    """retry-failed's fan-out list (report --list-unfinished): an unfinished table of at least --big-table-mb is
    followed by its K-1 further loader items, as pre-data's fan-out gives them; K = 1 or a small table: its own
    item only; a table that succeeded gets none however big."""
    documents = sample.documents()
    for entry in documents["tables.json"]["tables"]:
        entry["size_mb"] = {"public.events": 500, "public.sales": 900}.get(entry["table"], 10)
    raw = RawRun(sample.RUN_ID, documents, {})
    assert unfinished_tables(raw) == ["public.events", "public.ghost"]
    assert unfinished_tables(raw, 100, 1) == ["public.events", "public.ghost"]
    assert unfinished_tables(raw, 100, 3) == ["public.events", "loader-2-of-3:public.events",
                                              "loader-3-of-3:public.events", "public.ghost"]
    assert unfinished_tables(raw, 5, 2) == ["public.events", "loader-2-of-2:public.events", "public.ghost",
                                            "loader-2-of-2:public.ghost"]
    assert unfinished_tables(raw, 1000, 4) == ["public.events", "public.ghost"]
