"""`make demo` end to end: devstack, the sample database, the rendered DAG through run-local, the report copies.

Then the acceptance of the schema pipeline and the transfers on the sample: every edge table arrives cell by cell,
and every other sample object is in AlloyDB or in the report with its reason.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from devstack import env as devstack_env
from devstack import stack
from devstack.sample.expected import EDGE_OBJECTS, EDGE_TABLES, SCHEMA, row_differences
from shared.config import load_settings
from shared.objectstore import ObjectStore, RunLayout
from tests.support.documents import check_document, definition_of, run_folder_documents
from workflows import demo


@pytest.fixture(scope="module")
def demo_run(devstack, tmp_path_factory):
    output = tmp_path_factory.mktemp("demo-output")
    code = demo.main(["--devstack", devstack["state_dir"], "--output", str(output)])
    run_folders = [p for p in output.iterdir() if p.is_dir()]
    assert len(run_folders) == 1
    return code, run_folders[0]


@pytest.fixture(scope="module")
def alloydb(devstack):
    conn = psycopg2.connect(devstack_env.postgres_dsn(devstack, devstack["postgres"]["databases"]["alloydb"]))
    conn.autocommit = True
    yield conn
    conn.close()


def _rows_of_tables_file(folder: Path) -> dict[str, dict]:
    with (folder / f"{folder.name}.tables").open() as handle:
        return {row["table"]: row for row in csv.DictReader(handle, delimiter="\t")}


def test_demo_succeeds_and_copies_the_report_files(demo_run):
    code, folder = demo_run
    assert code == 0
    names = {p.name for p in folder.iterdir()}
    assert {f"{folder.name}.log", f"{folder.name}.tables", "summary.json", "report.html", "schema_redshift.sql",
            "schema_alloydb.sql"} <= names
    tables = _rows_of_tables_file(folder)
    assert len(tables) == 7 + len(EDGE_TABLES)
    assert {row["status"] for row in tables.values()} == {"succeeded"}
    assert all(row["rows_source"] == row["rows_loaded"] for row in tables.values())
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["totals"]["rows_loaded"] == summary["totals"]["rows_source"] > 40_000


def test_every_edge_table_arrives_cell_by_cell(demo_run, devstack, alloydb):
    _, folder = demo_run
    settings = load_settings(devstack_env.product_environ(devstack))
    layout = RunLayout.from_settings(folder.name, settings.gcs, settings.s3)
    name_map = ObjectStore(settings.s3, settings.gcs).read_json(layout.name_map_json)
    targets = {(t["source"]["schema"], t["source"]["name"]): t for t in name_map["tables"]}
    problems = []
    for table in EDGE_TABLES:
        mapped = targets[(SCHEMA, table.name)]
        columns = [c["target"] for c in mapped["columns"]]
        with alloydb.cursor() as cursor:
            cursor.execute(sql.SQL("SELECT {} FROM {}.{} ORDER BY {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(mapped["target"]["schema"]),
                sql.Identifier(mapped["target"]["name"]),
                sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(columns)))))
            actual = cursor.fetchall()
        if table.name == "sketches":  # its HLLSKETCH column has no PostgreSQL type: reported and left out
            assert columns == ["id"]
            actual = [row + (None,) for row in actual]
        problems += row_differences(table, actual)
        assert len(mapped["target"]["name"].encode()) <= 63
    assert problems == []
    long_targets = [t["target"]["name"] for key, t in targets.items() if len(key[1].encode()) > 63]
    assert len(long_targets) == len(set(long_targets)) == 3


def test_every_other_sample_object_is_in_alloydb_or_reported_with_a_reason(demo_run, alloydb):
    _, folder = demo_run
    with alloydb.cursor() as cursor:
        cursor.execute("SELECT viewname FROM pg_views WHERE schemaname = 'edge'")
        views = {name for (name,) in cursor.fetchall()}
        cursor.execute("SELECT matviewname, ispopulated FROM pg_matviews WHERE schemaname = 'edge'")
        materialized = dict(cursor.fetchall())
        cursor.execute("SELECT p.proname, p.prokind FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                       "WHERE n.nspname = 'edge'")
        routines = dict(cursor.fetchall())
        cursor.execute("SELECT * FROM edge.v_functions")
        functions_row = cursor.fetchone()
        view_rows = {}
        for view in ("v_aggregates", "v_on_view", "v_late"):
            cursor.execute(sql.SQL("SELECT * FROM edge.{}").format(sql.Identifier(view)))
            view_rows[view] = cursor.fetchall()
        cursor.execute("SELECT edge.f_add_one(41)")
        udf = cursor.fetchone()[0]
        cursor.execute("INSERT INTO edge.identity_cols (label) VALUES ('next') RETURNING id")
        next_identity = cursor.fetchone()[0]
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'edge.clean_child'::regclass "
                       "AND contype = 'f'")
        kept_foreign_keys = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM pg_constraint WHERE conrelid = 'edge.parent'::regclass")
        parent_constraints = cursor.fetchone()[0]
    assert {"v_functions", "v_aggregates", "v_getdate", "v_on_view", "v_late"} <= views
    assert materialized == {"mv_child_counts": True}
    assert routines.get("f_add_one") == "f" and routines.get("sp_log_parent") == "p"
    assert "f_py_double" not in routines
    assert functions_row[1:] == ("a", "one", 1, functions_row[4], 52, 4, 5, "2008-03-05 09:25:29")
    assert str(functions_row[4]).startswith("2008-03-28")
    expected_views = {o.name: list(o.expected_rows) for o in EDGE_OBJECTS if o.name in view_rows}
    assert view_rows == expected_views  # LISTAGG, MEDIAN, a view over a view, a late-binding view: AWS's values
    assert udf == 42
    assert next_identity == 35  # IDENTITY(5,10) reseeded after the load: 5, 15, 25 were loaded
    assert len(kept_foreign_keys) == 1  # the FK the data respects is kept
    assert parent_constraints == 0  # PK/UNIQUE the data violates are reported instead
    summary = json.loads((folder / "summary.json").read_text())
    reasons = {(r["kind"], r["reason"]) for r in summary["objects_not_migrated"]["by_reason"]}
    assert any(kind == "function" and "Python UDF" in reason for kind, reason in reasons)
    assert any(kind == "constraint" and "violate" in reason for kind, reason in reasons)
    log = (folder / f"{folder.name}.log").read_text()
    assert "dump_schema" in log and "report" in log


def test_dry_run_validates_the_schema_and_writes_nothing_to_alloydb(demo_run, devstack, alloydb):
    from shared.objectstore import new_run_id
    from workflows.local_env import devstack_environment
    from workflows.run_local import RENDERED, run_workflow

    def tables_in_alloydb() -> list[tuple]:
        with alloydb.cursor() as cursor:
            cursor.execute("SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('edge', 'tickit') "
                           "ORDER BY 1, 2")
            return cursor.fetchall()

    before = tables_in_alloydb()
    parameters, local = devstack_environment(devstack)
    parameters.update({"run-id": new_run_id(parameters["database"]) + "_dry", "dry-run": "true"})
    result = run_workflow(RENDERED / "workflow-local.yaml", parameters, local, demo_run[1] / "dry",
                          progress=lambda message: None)
    assert result.phase == "Succeeded"
    phases = {n.name: n.phase for n in result.nodes}
    assert phases == {"dump-schema": "Succeeded", "rewrite-ddl": "Succeeded", "validate-restore": "Succeeded",
                      "plan": "Succeeded", "load-schema-pre": "Skipped", "table-transfer": "Skipped", "load-schema-post": "Skipped",
                      "report": "Skipped"}
    settings = load_settings(devstack_env.product_environ(devstack))
    layout = RunLayout.from_settings(result.run_id, settings.gcs, settings.s3)
    store = ObjectStore(settings.s3, settings.gcs)
    assert store.exists(layout.schema_alloydb_sql) and store.exists(layout.schema_redshift_sql)
    assert tables_in_alloydb() == before


@pytest.mark.parametrize("bad_flag, message", [
    ({"--scale": "0"}, "--scale must be at least 1, not 0"),
    ({"--devstack": "/etc/hostname"}, "--devstack /etc/hostname is not a folder"),
    ({"--output": "/proc/r2a-demo-output"},
     "--output /proc/r2a-demo-output cannot be created: No such file or directory"),
])
def test_demo_refuses_bad_flags_in_one_line_before_starting_devstack(tmp_path, bad_flag, message):
    state = tmp_path / "devstack"
    flags = {"--devstack": str(state), "--output": str(tmp_path / "out"), **bad_flag}
    done = subprocess.run([sys.executable, "-m", "workflows.demo", *[x for pair in flags.items() for x in pair]],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"make demo: error: {message}"]
    assert not state.exists()


@pytest.mark.live  # a private devstack
def test_demo_at_scale_3_moves_every_row_with_one_progress_line_per_event(tmp_path):
    """A private devstack: the session's emulator holds the scale-1 sample other tests rely on."""
    state, output = tmp_path / "devstack", tmp_path / "out"
    try:
        done = subprocess.run([sys.executable, "-m", "workflows.demo", "--scale", "3", "--devstack", str(state),
                               "--output", str(output)], capture_output=True, text=True, timeout=240)
    finally:
        stack.down(state, purge=True)
    assert done.returncode == 0, done.stderr[-2000:]
    [folder] = [p for p in output.iterdir() if p.is_dir()]
    tables = _rows_of_tables_file(folder)
    assert {row["status"] for row in tables.values()} == {"succeeded"}
    assert all(row["rows_source"] == row["rows_loaded"] for row in tables.values())
    assert int(tables["tickit.sales"]["rows_loaded"]) == 3 * 17_250
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["totals"]["rows_loaded"] == summary["totals"]["rows_source"] > 120_000
    starts = [line for line in done.stdout.splitlines() if "  >  " in line]
    items = [m.group(1) for line in starts if (m := re.search(r"  >  table-transfer\(\d+:(.+)\)$", line))]
    assert len(starts) == 7 - 1 + len(items)  # every task but the fan-out parent, plus one per fan-out item
    # no demo table reaches own-pod-min-mb (256 MB): the 26 tables go in batches (steps/load_schema/fanout.py)
    assert items and len(set(items)) == len(items) < len(tables) and all(i.startswith("batch-") for i in items)
    assert all(line.count("  >  ") == 1 for line in starts)


def test_every_document_of_the_run_round_trips_through_its_dataclass_and_schema(demo_run, devstack):
    _, folder = demo_run
    settings = load_settings(devstack_env.product_environ(devstack))
    layout = RunLayout.from_settings(folder.name, settings.gcs, settings.s3)
    documents = run_folder_documents(ObjectStore(settings.s3, settings.gcs), layout)
    problems, checked = [], []
    for url, document in sorted(documents.items()):
        definition = definition_of(layout, url)
        if definition is None:
            problems.append(f"{url}: a JSON document with no definition in shared/documents")
            continue
        problems += check_document(definition, document, url)
        checked.append(url)
    assert problems == []
    assert {layout.catalog_json, layout.name_map_json, layout.tables_json, layout.step_result("report"),
            layout.rewrite_report_json, layout.validation_report_json, layout.load_report_json,
            layout.post_data_report_json, layout.fanout_json, layout.pre_data_progress_json,
            layout.summary_json} <= set(checked)
    assert sum(url.startswith(layout.results_prefix) for url in checked) == 7 + len(EDGE_TABLES)
    claims = [url for url in checked if url.startswith(layout.claims_root)]
    assert len(claims) >= 7 + len(EDGE_TABLES)  # an attempt of every table at least
