"""dry-run=true ends with the plan: every table with its rows and data size from svv_table_info, largest first, the
S3 bytes after compression from a sample, the egress, the objects that will not migrate and a duration estimate,
printed and written to plan.json; AlloyDB is not touched. `r2a plan` runs the same and prints it.

svv_table_info: `size` is the table's size in 1 MB data blocks, `estimated_visible_rows` the rows without those
marked for deletion, and it "doesn't return any information for empty tables"
(https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLE_INFO.html); dump_schema reads both and rewrite_ddl
carries them in name_map.json.
"""

from __future__ import annotations

import psycopg2
import pytest
from typer.testing import CliRunner

from devstack import env as devstack_env
from shared.config import load_settings
from shared.identifiers import canonical_name
from shared.objectstore import ObjectStore, RunLayout, new_run_id
from workflows.cli import app
from workflows.local_env import devstack_environment
from workflows.run_local import RENDERED, run_workflow


def _alloydb_relations(devstack) -> list[tuple]:
    conn = psycopg2.connect(devstack_env.postgres_dsn(devstack, devstack["postgres"]["databases"]["alloydb"]))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2")
            return cur.fetchall()
    finally:
        conn.close()


def _svv_table_info(redshift) -> dict[str, tuple[float, int]]:
    """Each table's data (svv_table_info's size less the blocks any table takes: one per column, user and 3 hidden,
    per populated slice, an ALL table per node, per segment, 2 with a sort key;
    https://repost.aws/knowledge-center/redshift-cluster-storage-space) and rows."""
    conn = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                            user=redshift["user"], password=redshift["password"], sslmode="disable")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*), COUNT(DISTINCT node) FROM stv_slices")
            slices, nodes = cur.fetchone()
            cur.execute('SELECT i."schema", i."table", i.size, i.estimated_visible_rows, i.tbl_rows, i.diststyle, '
                        "i.sortkey_num, (SELECT COUNT(*) FROM svv_columns c WHERE c.table_schema = i.\"schema\" "
                        'AND c.table_name = i."table") FROM svv_table_info i')
            info = {}
            for schema, table, size, rows, stored, style, sorted_by, columns in cur.fetchall():
                populated = nodes if style in ("ALL", "AUTO(ALL)") else min(slices, int(stored))
                empty_blocks = (int(columns) + 3) * populated * (2 if sorted_by else 1)
                info[canonical_name(schema, table)] = (max(float(size) - empty_blocks, 0.0), int(rows or 0))
            return info
    finally:
        conn.close()


@pytest.fixture(scope="module")
def planned(devstack, sample_redshift, tmp_path_factory):
    before = _alloydb_relations(devstack)
    parameters, local = devstack_environment(devstack)
    parameters.update({"run-id": new_run_id(parameters["database"]) + "_plan", "dry-run": "true"})
    result = run_workflow(RENDERED / "workflow-local.yaml", parameters, local, tmp_path_factory.mktemp("plan"),
                          progress=lambda message: None)
    settings = load_settings(devstack_env.product_environ(devstack))
    layout = RunLayout.from_settings(result.run_id, settings.gcs, settings.s3)
    plan = ObjectStore(settings.s3, settings.gcs).read_json(layout.plan_json)
    return result, plan, before


def test_dry_run_plans_every_table_largest_first_and_writes_nothing_to_alloydb(planned, devstack, redshift):
    result, plan, before = planned
    assert result.phase == "Succeeded"
    phases = {n.name: n.phase for n in result.nodes}
    assert phases["plan"] == "Succeeded"
    assert {phases[n] for n in ("load-schema-pre", "table-transfer", "load-schema-post", "report")} == {"Skipped"}
    assert _alloydb_relations(devstack) == before

    info = _svv_table_info(redshift)
    tables = plan["tables"]
    assert len(tables) >= 20
    for table in tables:
        size, rows = info.get(table["table"], (0.0, 0))  # the view has no row for an empty table (AWS page above)
        assert (table["size_mb"], table["rows"]) == (size, rows), table
    order = [(-t["size_mb"], -t["rows"], t["table"]) for t in tables]
    assert order == sorted(order)
    assert plan["totals"]["rows"] == sum(t["rows"] for t in tables) > 40_000


def test_the_plan_gives_compressed_bytes_egress_dropped_objects_and_an_estimate(planned):
    _, plan, _ = planned
    compression = plan["compression"]
    assert compression["codec"] == "zstd" and 0 < compression["ratio"] < 1
    assert 1 <= compression["sampled_tables"] <= 10 and compression["sample_rows"] > 0
    assert "compressed with zstd" in compression["method"]
    sampled = [t for t in plan["tables"] if t["sampled"]]
    assert sampled == [t for t in plan["tables"] if t["rows"] > 0][:len(sampled)]  # the largest ones
    for table in plan["tables"]:
        assert (table["s3_bytes"] > 0) == (table["rows"] > 0), table
        assert table["s3_bytes"] < table["text_bytes"] or table["rows"] == 0
    totals = plan["totals"]
    assert totals["s3_bytes"] == totals["s3_to_gcs_egress_bytes"] == sum(t["s3_bytes"] for t in plan["tables"])
    kinds = {(o["kind"], o["stage"]) for o in plan["not_migrated"]}
    assert ("function", "rewrite_ddl") in kinds  # the sample's Python UDF
    assert all(o["reason"] for o in plan["not_migrated"])
    estimate = plan["estimate"]
    assert estimate["throttles"] == {"concurrent_transfers": 8, "index_jobs": 4}
    assert estimate["keys_and_indexes"] > 0
    assert estimate["total_s"] == pytest.approx(estimate["transfers_s"] + estimate["post_data_s"], abs=0.11)
    assert estimate["transfers_s"] >= 2.0  # at least one table's overhead
    assert all(rate["source"] for rate in estimate["rates"].values())


def test_the_plan_step_prints_the_plan(planned):
    result, plan, _ = planned
    log = next(n for n in result.nodes if n.name == "plan").log.read_text()
    assert f"plan of run {plan['run_id']}: {len(plan['tables']):,} tables" in log
    largest = plan["tables"][0]
    assert any(line.startswith(largest["table"]) and f"{largest['rows']:,}" in line for line in log.splitlines())
    assert "S3 → GCS egress" in log and "estimate:" in log and "objects that will not migrate" in log


def test_r2a_plan_shows_a_run_folder_plan(planned, devstack, monkeypatch):
    _, plan, _ = planned
    for name, value in devstack_env.product_environ(devstack).items():
        monkeypatch.setenv(name, value)
    done = CliRunner().invoke(app, ["plan", "--run-id", plan["run_id"]])
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"plan of run {plan['run_id']}:")
    missing = CliRunner().invoke(app, ["plan", "--run-id", "nosuchrun_20000101_000000"])
    assert missing.exit_code != 0 and "plan.json" in missing.output and "Traceback" not in missing.output


def test_r2a_plan_with_parameters_runs_the_dry_run_and_prints_its_plan(devstack, sample_redshift, tmp_path,
                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)  # run-local/<run-id>/ goes here
    before = _alloydb_relations(devstack)
    done = CliRunner().invoke(app, ["plan", "--devstack", devstack["state_dir"], "-p", "tables=^tickit\\.(sales|venue)$"])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].startswith("plan of run ") and ": 2 tables" in lines[0]
    assert [line.split()[0] for line in lines[2:4]] == ["tickit.sales", "tickit.venue"]  # sales is the larger
    assert _alloydb_relations(devstack) == before


def test_the_plan_step_without_a_rewritten_schema_stops_in_one_line(devstack_environ):
    from tests.support.steps import run_step

    done = run_step("steps.plan", ["--run-id", new_run_id("nothing")], devstack_environ)
    errors = [line for line in done.stderr.splitlines() if line.startswith("r2a plan: error: ")]
    assert done.returncode == 6 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "name_map.json does not exist" in errors[0] and "Run rewrite_ddl" in errors[0]
