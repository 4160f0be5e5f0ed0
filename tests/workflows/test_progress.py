"""Argo's self-reported progress (https://argo-workflows.readthedocs.io/en/latest/progress/): a pod writes `N/M` to
$ARGO_PROGRESS_FILE; run-local gives every node its own file, shows what running nodes write, keeps the last value
per node (nodes.json) and sums a fan-out's and the workflow's as Argo does. Argo's executor and UI cannot run here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from shared import progress
from workflows import run_local
from workflows.local_env import LocalEnvironment
from workflows.run_local import load_result, print_nodes, run_workflow


def test_report_replaces_the_file_with_n_of_m_and_read_parses_it(tmp_path):
    path = tmp_path / "progress"
    progress.report(0, 3, {progress.ENV: str(path)})
    assert path.read_text() == "0/3\n" and progress.read(path) == progress.Progress(0, 3)
    progress.report(3, 3, {progress.ENV: str(path)})
    assert str(progress.read(path)) == "3/3"
    assert [p.name for p in tmp_path.iterdir()] == ["progress"]  # no temporary file left beside it


def test_without_argo_progress_file_nothing_is_written_and_an_unwritable_one_does_not_fail(tmp_path):
    progress.report(1, 2, {})
    assert list(tmp_path.iterdir()) == []
    progress.report(1, 2, {progress.ENV: str(tmp_path / "no-such-folder" / "progress")})  # logged, not raised


@pytest.mark.parametrize("text, expected", [("2/5\n", (2, 5)), (" 0/0 ", (0, 0)), ("6/5", None), ("1/", None),
                                            ("-1/5", None), ("a/b", None), ("", None), ("1/2/3", None)])
def test_parse_accepts_only_argos_n_of_m(text, expected):
    value = progress.parse(text)
    assert ((value.done, value.total) if value else None) == expected


def test_a_missing_progress_file_reads_as_none(tmp_path):
    assert progress.read(tmp_path / "progress") is None


def _workflow(tmp_path: Path) -> Path:
    # Each pod reports through the product's helper, as table_transfer does: 1/2, a pause, then 2/2.
    stub = ("import sys, time; from shared.progress import report; report(1, 2); time.sleep(1.5); report(2, 2); "
            "print('ok')")
    document = {"kind": "Workflow", "spec": {"entrypoint": "main", "templates": [
        {"name": "main", "parallelism": 3, "dag": {"tasks": [
            {"name": "fan", "template": "work", "withParam": json.dumps(["a", "b", "c"]),
             "arguments": {"parameters": [{"name": "item", "value": "{{item}}"}]}},
            {"name": "quiet", "template": "silent"}]}},
        {"name": "work", "inputs": {"parameters": [{"name": "item"}]},
         "container": {"image": "x", "command": ["python", "-c", stub]}},
        {"name": "silent", "container": {"image": "x", "command": ["python", "-c", "print('no progress')"]}}]}}
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_run_local_gives_each_node_a_progress_file_shows_it_live_and_sums_it(tmp_path, monkeypatch):
    monkeypatch.setattr(run_local, "PROGRESS_EVERY_S", 0.2)
    messages: list[str] = []
    result = run_workflow(_workflow(tmp_path), {}, LocalEnvironment(), tmp_path / "run", progress=messages.append)
    assert result.phase == "Succeeded"
    children = {n.name: n.progress for n in result.nodes if "(" in n.name}
    assert children == {"fan(0:a)": "2/2", "fan(1:b)": "2/2", "fan(2:c)": "2/2"}
    assert result.task_phase("quiet") == "Succeeded"
    assert next(n for n in result.nodes if n.name == "quiet").progress == ""
    assert any(m.strip() == "~  fan(0:a): 1/2" for m in messages)  # seen while the pod ran
    assert any("fan(0:a): ok, 1 attempt(s), progress 2/2" in m for m in messages)
    # Kept in nodes.json (for --retry) and summed as Argo does: 3 × 2/2 plus 1/1 for the silent, finished node.
    assert {n.name: n.progress for n in load_result(tmp_path / "run")[1].nodes if "(" in n.name} == children
    lines: list[str] = []
    print_nodes(result, lines.append)
    assert any("fan " in line and "progress 6/6" in line for line in lines)
    assert "progress 7/7" in lines[-1]


def test_node_progress_counts_a_node_without_a_file_as_argo_does():
    nodes = [run_local.NodeResult("t", "t(0:a)", "Succeeded", progress="3/4"),
             run_local.NodeResult("t", "t(1:b)", "Failed"), run_local.NodeResult("t", "t(2:c)", "Errored"),
             run_local.NodeResult("t", "t(3:d)", "Omitted")]
    assert str(run_local.node_progress(nodes)) == "5/7"


def test_transfer_totals_go_to_the_output_parameter_files_the_metrics_read(tmp_path):
    """table-transfer's totals for the template's Prometheus metrics: one file per output parameter."""
    from shared import argo_outputs
    from shared.results import TableResult

    results = [TableResult(run_id="r", table="s.a", target="s.a", started_at="t", status="succeeded", rows_loaded=10,
                           bytes_compressed=300),
               TableResult(run_id="r", table="s.b", target="s.b", started_at="t", status="failed"),
               TableResult(run_id="r", table="s.c", target="s.c", started_at="t", status="skipped", rows_loaded=0)]
    totals = argo_outputs.transfer_totals(results)
    assert totals == {"rows": 10, "bytes": 300, "tables": 3, "tables-failed": 1}
    argo_outputs.write(totals, {argo_outputs.ENV: str(tmp_path / "outputs")})
    assert {p.name: p.read_text() for p in (tmp_path / "outputs").iterdir()} == {
        "rows": "10", "bytes": "300", "tables": "3", "tables-failed": "1"}
    argo_outputs.write(totals, {})  # no folder given: nothing written, nothing raised
    argo_outputs.write(totals, {argo_outputs.ENV: str(tmp_path / "outputs" / "rows")})  # a file: logged only


def test_a_hostile_item_in_a_node_name_stays_on_its_progress_line(tmp_path):
    hostile = "s.t\n  ✓  fan(9:forged): ok\x1b[2J"
    document = {"kind": "Workflow", "spec": {"entrypoint": "main", "templates": [
        {"name": "main", "dag": {"tasks": [
            {"name": "fan", "template": "work", "withParam": json.dumps([hostile]),
             "arguments": {"parameters": [{"name": "item", "value": "{{item}}"}]}}]}},
        {"name": "work", "inputs": {"parameters": [{"name": "item"}]},
         "container": {"image": "x", "command": ["python", "-c", "raise SystemExit(3)"]}}]}}
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(document))
    messages: list[str] = []
    result = run_workflow(path, {}, LocalEnvironment(), tmp_path / "run", progress=messages.append)
    lines: list[str] = []
    print_nodes(result, lines.append)
    assert result.phase == "Failed" and f"fan(0:{hostile})" in [n.name for n in result.failed_nodes]
    shown = messages + lines
    assert not any("\n" in m or "\x1b" in m for m in shown)
    assert any("failed: fan(0:s.t\\n  ✓  fan(9:forged): ok\\u001b[2J) (exit 3)" in line for line in lines)
    assert not any(m.strip().startswith("✓  fan(9:forged)") for m in shown)
