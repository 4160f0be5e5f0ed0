"""retry-failed end to end on devstack (two tables made to fail by the emulator's fault switch), `r2a status`, and
`r2a submit` against a local HTTP server speaking the Argo Server's create-workflow call (the Argo controller and
server cannot run here; the request Hera sends is what is checked)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared.objectstore import new_run_id
from shared.progress import parse as parse_progress
from tests.support.db import on_redshift
from tests.workflows.argo_server import AcceptingArgoServer, serving
from workflows.cli import app
from workflows.demo import copy_report, reset_target
from workflows.local_env import devstack_environment
from workflows.run_local import RENDERED, run_workflow

FAILING = ("tickit.venue", "edge.char_blanks")


def _tables_file(folder: Path, run_id: str) -> dict[str, str]:
    with (folder / run_id / f"{run_id}.tables").open() as handle:
        return {row["table"]: row["status"] for row in csv.DictReader(handle, delimiter="\t")}


@pytest.fixture(scope="module")
def failed_run(devstack, sample_redshift, tmp_path_factory):
    """A full run in which UNLOAD of two tables fails every time (a permanent error, so no retry helps)."""
    reset_target(devstack)
    parameters, local = devstack_environment(devstack)
    parameters["run-id"] = new_run_id(parameters["database"])
    work = tmp_path_factory.mktemp("retry")
    for table in FAILING:
        on_redshift(devstack, "select r2a_emulator_fault('unload_fail', %s, 'injected: permission denied for table')",
                  (table,))
    try:
        result = run_workflow(RENDERED / "workflow-local.yaml", parameters, local, work / "first",
                              retry_backoff_s=0.01, progress=lambda message: None)
    finally:
        on_redshift(devstack, "select r2a_emulator_fault_clear()")
    copy_report(devstack, result.run_id, work / "report-first")
    return result, work, parameters, local


def test_a_failed_table_fails_the_report_and_the_workflow(failed_run):
    result, work, _, _ = failed_run
    assert result.phase == "Failed"
    assert result.task_phase("report") == "Failed"
    assert result.task_phase("load-schema-post") == "Succeeded"
    statuses = _tables_file(work / "report-first", result.run_id)
    assert {t for t, s in statuses.items() if s == "failed"} == set(FAILING)
    assert sum(1 for s in statuses.values() if s == "succeeded") == len(statuses) - 2


def test_every_transfer_pod_ends_its_argo_progress_on_tables_done_of_its_tables(failed_run):
    """table_transfer writes tables done / tables of the pod to ARGO_PROGRESS_FILE (a failed table is done too),
    so a pod ends on M/M as Argo's progress page asks (https://argo-workflows.readthedocs.io/en/latest/progress/)."""
    result = failed_run[0]
    transfers = [n for n in result.nodes if n.task == "table-transfer" and "(" in n.name]
    assert transfers
    for node in transfers:
        value = parse_progress(node.progress)
        assert value is not None and value.done == value.total >= 1, (node.name, node.progress)
        if ":batch-" not in node.name:
            assert value.total == 1, node.name


def test_status_lists_the_failed_tables_and_exits_7(failed_run, devstack_environ):
    result = failed_run[0]
    done = CliRunner().invoke(app, ["status", "--run-id", result.run_id], env=devstack_environ)
    assert done.exit_code == 7, done.output
    failed_lines = [line for line in done.output.splitlines() if " failed " in line]
    assert sorted(line.split()[0] for line in failed_lines) == sorted(FAILING)
    assert "injected: permission denied" in done.output


def test_retry_failed_transfers_exactly_the_failed_tables(failed_run, devstack, devstack_environ):
    result, work, parameters, local = failed_run
    retry = run_workflow(RENDERED / "workflowtemplate-retry-failed.yaml",
                         {k: v for k, v in parameters.items() if k != "on-existing"}, local, work / "retry",
                         progress=lambda message: None)
    assert retry.phase == "Succeeded", [(n.name, n.phase, n.log) for n in retry.failed_nodes]
    transferred = sorted(n.name.split(":", 1)[1].rstrip(")") for n in retry.nodes
                         if n.task == "table-transfer" and "(" in n.name)
    assert transferred == sorted(FAILING)
    copy_report(devstack, result.run_id, work / "report-retry")
    statuses = _tables_file(work / "report-retry", result.run_id)
    assert set(statuses.values()) == {"succeeded"}
    done = CliRunner().invoke(app, ["status", "--run-id", result.run_id], env=devstack_environ)
    assert done.exit_code == 0, done.output


def test_retry_failed_of_an_unknown_run_is_one_line(devstack):
    done = CliRunner().invoke(app, ["retry-failed", "--run-id", "no_such_run_1", "--local",
                                    "--devstack", devstack["state_dir"]])
    assert done.exit_code == 1
    assert "list-unfinished" in done.output and "FAILED" in done.output


@pytest.fixture
def argo_server():
    AcceptingArgoServer.received = []
    with serving(AcceptingArgoServer) as port:
        yield f"http://127.0.0.1:{port}"


def test_submit_sends_a_workflow_referencing_the_template(argo_server):
    environ = {"ARGO_SERVER": argo_server, "ARGO_TOKEN": "tok-very-secret", "ARGO_NAMESPACE": "argo"}
    done = CliRunner().invoke(app, ["submit", "-p", "database=sales", "-p", "gcs-bucket=b"], env=environ)
    assert done.exit_code == 0, done.output
    request = AcceptingArgoServer.received[0]
    assert request["path"] == "/api/v1/workflows/argo"
    assert request["auth"] == "Bearer tok-very-secret"
    spec = request["body"]["workflow"]["spec"]
    assert spec["workflowTemplateRef"] == {"name": "redshift-to-alloydb"}
    parameters = {p["name"]: p["value"] for p in spec["arguments"]["parameters"]}
    assert parameters["database"] == "sales" and parameters["run-id"].startswith("sales_")
    assert "redshift-to-alloydb-abc12" in done.output and "tok-very-secret" not in done.output


def test_retry_failed_submits_the_retry_template(argo_server):
    done = CliRunner().invoke(app, ["retry-failed", "--run-id", "sales_20260101_000000"],
                              env={"ARGO_SERVER": argo_server})
    assert done.exit_code == 0, done.output
    spec = AcceptingArgoServer.received[0]["body"]["workflow"]["spec"]
    assert spec["workflowTemplateRef"] == {"name": "retry-failed"}
    assert {"name": "run-id", "value": "sales_20260101_000000"} in spec["arguments"]["parameters"]


def test_submit_errors_are_one_line():
    unreachable = CliRunner().invoke(app, ["submit"], env={"ARGO_SERVER": "http://127.0.0.1:9"})
    assert unreachable.exit_code == 1
    assert unreachable.output.strip().splitlines() == [
        "r2a submit: error: cannot reach the Argo Server at http://127.0.0.1:9"]
    unset = CliRunner().invoke(app, ["submit"], env={"ARGO_SERVER": ""})
    assert unset.exit_code == 2 and "ARGO_SERVER is not set" in unset.output
    bad = CliRunner().invoke(app, ["retry-failed", "--run-id", "bad id;"], env={"ARGO_SERVER": ""})
    assert bad.exit_code == 3 and len(bad.output.strip().splitlines()) == 1
