"""A table that fails and is loaded again after post-data ran ends exactly as in a clean run, whichever way it is
retried: `r2a retry-failed` (the retry-failed template), `argo retry` (run-local's retry: only the nodes that did not
succeed run again, in the same run) and a resubmit (the whole DAG again with the same parameters).

The failing tables are the sample's edge.identity_cols (IDENTITY), edge.parent (referenced by a foreign key; its
rows hold duplicate ids, so its primary key is violated), edge.clean_parent (referenced by a foreign key the data
respects) and edge.child (under the materialized view edge.mv_child_counts, and holding the foreign key to
edge.parent). Their UNLOAD fails with the emulator's `unload_fail` fault. Each scenario runs on a database of its
own on devstack's PostgreSQL, so the clean run's end state is compared with each route's: pg_dump --schema-only,
row counts, sequence last values, whether each table was ANALYZEd, the materialized views' rows, and the
post-data report and summary the operator reads.

Redshift declares but does not enforce PRIMARY KEY, UNIQUE and FOREIGN KEY constraints, which is why edge.parent
can hold duplicate keys ("Uniqueness, primary key, and foreign key constraints are informational only; they are
not enforced by Amazon Redshift", https://docs.aws.amazon.com/redshift/latest/dg/t_Defining_constraints.html).
"""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from devstack import env as envfile
from shared.config import load_settings
from shared.identifiers import parse_table_ref
from shared.objectstore import ObjectStore, RunLayout, new_run_id
from steps.validate_restore.pgdump import dump_schema, find_pg_dump
from tests.conftest import admin_connection
from tests.support.db import on_redshift
from workflows.demo import copy_report
from workflows.local_env import devstack_environment
from workflows.run_local import RENDERED, retry_workflow, run_workflow

FAILING = ("edge.identity_cols", "edge.parent", "edge.clean_parent", "edge.child")
WORKFLOW = RENDERED / "workflow-local.yaml"
QUIET = {"retry_backoff_s": 0.01, "progress": lambda message: None}

# each scenario is two runs of the whole sample database through run-local (2-3 min each on 2 idle cores); the first
# test also waits for the module's clean run
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


class Scenario:
    """One run of the sample into a database of its own."""

    def __init__(self, devstack, work: Path, label: str):
        self.devstack, self.work = devstack, work
        self.database = f"t_retry_{label}_{uuid.uuid4().hex[:8]}"
        admin = admin_connection(devstack)
        try:
            with admin.cursor() as cur:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        finally:
            admin.close()
        self.dsn = envfile.postgres_dsn(devstack, self.database)
        self.parameters, self.local = devstack_environment(devstack)
        self.parameters["alloydb-database"] = self.database
        # a pod for every table (steps/load_schema/fanout.py): argo retry then re-runs exactly the failed tables' nodes
        self.parameters["own-pod-min-mb"] = "0"
        self.parameters["run-id"] = f"{new_run_id(self.parameters['database'])}_{label}"
        settings = load_settings(envfile.product_environ(devstack))
        self.store = ObjectStore(settings.s3, settings.gcs)
        self.layout = RunLayout.from_settings(self.parameters["run-id"], settings.gcs, settings.s3)

    def first_run(self, failing: tuple[str, ...] = ()):
        for table in failing:
            on_redshift(self.devstack, "select r2a_emulator_fault('unload_fail', %s, 'injected: permission denied')",
                      (table,))
        try:
            return run_workflow(WORKFLOW, self.parameters, self.local, self.work / "first", **QUIET)
        finally:
            on_redshift(self.devstack, "select r2a_emulator_fault_clear()")

    def drop(self) -> None:
        admin = admin_connection(self.devstack)
        try:
            with admin.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.database)))
        finally:
            admin.close()

    def rows(self, statement, params=None) -> list[tuple]:
        conn = psycopg2.connect(self.dsn)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall()
        finally:
            conn.close()

    def statuses(self) -> dict[str, str]:
        copy_report(self.devstack, self.parameters["run-id"], self.work / "report")
        run_id = self.parameters["run-id"]
        with (self.work / "report" / run_id / f"{run_id}.tables").open() as handle:
            return {row["table"]: row["status"] for row in csv.DictReader(handle, delimiter="\t")}

    def end_state(self) -> dict:
        """What a user of the database sees, and what the operator's report says about the schema objects."""
        major = int(self.rows("SHOW server_version_num")[0][0]) // 10000
        dump = dump_schema(find_pg_dump(major), self.dsn)
        # comments and pg_dump's per-dump random \restrict key differ between any two dumps
        # and r2a_staging, r2a's own schema, exists (empty: post-data drops what is in it) only after a run that
        # loaded a table holding rows through a shadow (a resubmit reloads the tables that succeeded the first time)
        schema = [line for line in dump.splitlines() if line.strip() and not line.startswith(("--", "\\restrict",
                                                                                               "\\unrestrict"))
                  and line != "CREATE SCHEMA r2a_staging;"]
        tables = self.rows("SELECT schemaname, relname FROM pg_stat_user_tables WHERE schemaname <> 'r2a_staging' "
                           "ORDER BY 1, 2")
        counts = {f"{s}.{t}": self.rows(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(s, t)))[0][0]
                  for s, t in tables}
        analyzed = dict((f"{s}.{t}", a) for s, t, a in self.rows(
            "SELECT schemaname, relname, last_analyze IS NOT NULL FROM pg_stat_user_tables"))
        sequences = self.rows("SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2")
        views = {f"{s}.{v}": sorted(map(repr, self.rows(sql.SQL("SELECT * FROM {}").format(sql.Identifier(s, v)))))
                 for s, v in self.rows("SELECT schemaname, matviewname FROM pg_matviews ORDER BY 1, 2")}
        report = self.store.read_json(self.layout.post_data_report_json)
        summary = self.store.read_json(self.layout.report("summary.json"))
        step = self.store.read_json(self.layout.step_result("load_schema_post_data"))
        return {"schema": schema, "rows": counts, "analyzed": analyzed, "sequences": sequences, "matviews": views,
                "post_data_objects": sorted(json.dumps(o, sort_keys=True) for o in report["objects"]),
                "post_data_counts": report["counts"], "analyzed_count": report["analyzed"],
                "deferred_tables": report["deferred_tables"], "step_counts": (step["status"], step["counts"]),
                "not_migrated": summary["objects_not_migrated"],
                "constraint_violations": sorted(json.dumps(v, sort_keys=True)
                                                for v in summary["constraint_violations"])}


@pytest.fixture(scope="module")
def clean(devstack, sample_redshift, tmp_path_factory):
    scenario = Scenario(devstack, tmp_path_factory.mktemp("clean"), "clean")
    try:
        result = scenario.first_run()
        assert result.phase == "Succeeded", [(n.name, n.log) for n in result.failed_nodes]
        state = scenario.end_state()
        yield state
    finally:
        scenario.drop()


def _check_clean_state(state: dict) -> None:
    """What the compared end state must hold for the comparison to mean anything."""
    (identity,) = [s for s in state["sequences"] if s[1].startswith("identity_cols")]
    assert identity[2] is not None and identity[2] > 5, identity  # reseeded past the loaded IDENTITY(5,10) values
    assert state["analyzed"]["edge.parent"] and state["analyzed"]["edge.identity_cols"]
    assert state["matviews"]["edge.mv_child_counts"], "the materialized view is empty"
    objects = [json.loads(o) for o in state["post_data_objects"]]
    pkey = next(o for o in objects if o["kind"] == "constraint" and o["name"] == "edge.parent.parent_pkey")
    assert pkey["status"] == "failed" and pkey["violations"] > 0, pkey
    assert not any("ADD CONSTRAINT parent_pkey" in line for line in state["schema"])
    clean_fk = [line for line in state["schema"] if "REFERENCES edge.clean_parent(id)" in line]
    assert clean_fk and not any("NOT VALID" in line for line in clean_fk), clean_fk  # validated
    assert state["deferred_tables"] == []


def _failed_first(devstack, tmp_path, label: str, failing: tuple[str, ...] = FAILING) -> tuple[Scenario, object]:
    scenario = Scenario(devstack, tmp_path, label)
    first = scenario.first_run(failing)
    assert first.phase == "Failed" and first.task_phase("load-schema-post") == "Succeeded"
    assert {t for t, s in scenario.statuses().items() if s != "succeeded"} == set(failing)
    report = scenario.store.read_json(scenario.layout.post_data_report_json)
    assert sorted(report["deferred_tables"]) == sorted(failing)
    return scenario, first


def _compare(scenario: Scenario, clean: dict, outcome, post_data_again: bool = False,
             failing: tuple[str, ...] = FAILING) -> None:
    """`post_data_again`: the route ran post-data after the late loads (a resubmit), so its report is a clean
    run's with nothing finished after it."""
    assert set(scenario.statuses().values()) == {"succeeded"}
    for table in failing:  # the retry shows in the table's attempts and timeline
        result = scenario.store.read_json(scenario.layout.result(parse_table_ref(table)))
        assert [a["status"] for a in result["attempts"]][-1] == "succeeded" and len(result["attempts"]) >= 2
        assert "finish" in [p["name"] for p in result["phases"]]
    state = scenario.end_state()
    _check_clean_state(clean)
    differing = sorted(key for key in clean if clean[key] != state[key])
    outcome.observed = "identical to the clean run" if not differing else f"differs in {', '.join(differing)}"
    for key in clean:
        assert state[key] == clean[key], key
    summary = scenario.store.read_json(scenario.layout.report("summary.json"))
    finished = {r["table"]: r for r in summary["finished_after_post_data"]}
    if post_data_again:
        assert finished == {}
        return
    assert set(FAILING) <= set(finished)
    assert {v["materialized_view"] for v in finished["edge.child"]["materialized_views_refreshed"]} \
        == {"edge.mv_child_counts"}
    assert all(finished[t]["analyzed"] for t in FAILING)


def test_retry_failed_after_post_data_ends_like_a_clean_run(clean, devstack, tmp_path, matrix):
    outcome = matrix.fault("4 tables failed, retried after post-data by r2a retry-failed", "post-data",
                           "AlloyDB and report as after a clean run (schema, rows, sequences, ANALYZE, MV rows)")
    scenario, _ = _failed_first(devstack, tmp_path, "rf")
    try:
        retry = run_workflow(RENDERED / "workflowtemplate-retry-failed.yaml",
                             {k: v for k, v in scenario.parameters.items() if k != "on-existing"}, scenario.local,
                             tmp_path / "retry", **QUIET)
        assert retry.phase == "Succeeded", [(n.name, n.log) for n in retry.failed_nodes]
        _compare(scenario, clean, outcome)
    finally:
        scenario.drop()


def test_argo_retry_after_post_data_ends_like_a_clean_run(clean, devstack, tmp_path, matrix):
    outcome = matrix.fault("4 tables failed, retried after post-data by argo retry (failed nodes only)",
                           "post-data",
                           "AlloyDB and report as after a clean run (schema, rows, sequences, ANALYZE, MV rows)")
    scenario, first = _failed_first(devstack, tmp_path, "ar")
    try:
        retry = retry_workflow(WORKFLOW, first, scenario.parameters, scenario.local, **QUIET)
        assert retry.phase == "Succeeded", [(n.name, n.log) for n in retry.failed_nodes]
        kept = {id(node) for node in first.nodes}
        rerun = {n.name for n in retry.nodes if id(n) not in kept}
        assert {name.split(":", 1)[1].rstrip(")") for name in rerun if "(" in name} == set(FAILING)
        # post-data is not run again (the fan-out's own node is only rebuilt from its items)
        assert {name for name in rerun if "(" not in name} == {"table-transfer", "report"}
        _compare(scenario, clean, outcome)
    finally:
        scenario.drop()


def test_resubmit_after_post_data_ends_like_a_clean_run(clean, devstack, tmp_path, matrix):
    """A resubmit loads every table again, also edge.clean_parent, which the first run loaded and whose referencing
    foreign key its post-data created and validated: the reload must neither fail on it nor lose it."""
    failing = tuple(t for t in FAILING if t != "edge.clean_parent")
    outcome = matrix.fault("3 tables failed, whole workflow resubmitted with the same run id", "post-data",
                           "AlloyDB and report as after a clean run (schema, rows, sequences, ANALYZE, MV rows)")
    scenario, _ = _failed_first(devstack, tmp_path, "rs", failing)
    try:
        again = run_workflow(WORKFLOW, scenario.parameters, scenario.local, tmp_path / "resubmit", **QUIET)
        assert again.phase == "Succeeded", [(n.name, n.log) for n in again.failed_nodes]
        _compare(scenario, clean, outcome, post_data_again=True, failing=failing)
    finally:
        scenario.drop()
