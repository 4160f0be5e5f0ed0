"""The two throttles of table-transfer (concurrent UNLOADs per Redshift cluster, concurrent COPY pods per AlloyDB
instance) as Argo ConfigMap semaphores, and run-local honouring them like Argo's controller does: a node starts only
holding a slot of every semaphore of its template, the limit is read from the ConfigMap each time (an edit applies
to running workflows), and every run sharing the ConfigMap shares the slots
(https://argo-workflows.readthedocs.io/en/latest/synchronization/). Argo's controller itself cannot run here: these
tests drive run-local and the rendered YAML."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml

from workflows import definitions as d
from workflows.local_env import LIMITS_FILE, LocalEnvironment
from workflows.render import RENDERED_DIR
from workflows.run_local import run_workflow
from workflows.semaphores import (
    ConfigMapLimits,
    SemaphoreError,
    SemaphoreRef,
    Semaphores,
    template_semaphores,
)

UNLOADS = SemaphoreRef(d.SEMAPHORE_CONFIGMAP, d.UNLOADS_KEY)
COPIES = SemaphoreRef(d.SEMAPHORE_CONFIGMAP, d.COPIES_KEY)


def limits_file(path: Path, unloads: int, copies: int) -> Path:
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": d.SEMAPHORE_CONFIGMAP, "namespace": "argo"},
                                    "data": {d.UNLOADS_KEY: str(unloads), d.COPIES_KEY: str(copies)}}))
    return path


def test_every_transfer_template_holds_both_semaphores_and_k8s_limits_defines_them():
    for path in RENDERED_DIR.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        spec = doc["spec"].get("workflowSpec", doc["spec"])
        for template in spec.get("templates", []):
            expected = [UNLOADS, COPIES] if template["name"] == "table-transfer" else []
            assert template_semaphores(template) == expected, (path.name, template["name"])
    limits = ConfigMapLimits((LIMITS_FILE,))
    assert limits(UNLOADS) >= 1 and limits(COPIES) >= 1


def _transfer_workflow(tmp_path: Path, items: int) -> Path:
    """The rendered table-transfer template (its synchronization untouched) over `items` items; the pod's command
    is a stub that prints when it started and ended."""
    spec = yaml.safe_load((RENDERED_DIR / "workflow-local.yaml").read_text())["spec"]
    transfer = {t["name"]: t for t in spec["templates"]}["table-transfer"]
    stub = "import time; started = time.time(); time.sleep(1.0); print(started, time.time())"
    container = {**transfer["container"], "command": ["python", "-c", stub], "args": [],
                 "env": [], "volumeMounts": []}
    document = {"kind": "Workflow", "spec": {"entrypoint": "main", "templates": [
        {"name": "main", "parallelism": 8, "dag": {"tasks": [
            {"name": "table-transfer", "template": "table-transfer",
             "withParam": json.dumps([f"s.t{i}" for i in range(items)]),
             "arguments": {"parameters": [{"name": "item", "value": "{{item}}"}]}}]}},
        {**transfer, "container": container, "volumes": []}]}}
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize("unloads, copies", [(3, 2), (1, 5)])
def test_run_local_runs_no_more_transfers_at_once_than_the_smaller_semaphore(tmp_path, unloads, copies):
    messages: list[str] = []
    local = LocalEnvironment(config_map_files=(limits_file(tmp_path / "limits.yaml", unloads, copies),),
                             semaphore_dir=tmp_path / "slots")
    result = run_workflow(_transfer_workflow(tmp_path, 5), {}, local,
                          tmp_path / "run", progress=messages.append)
    assert result.phase == "Succeeded"
    spans = [tuple(map(float, n.result.split())) for n in result.nodes if "(" in n.name]
    assert len(spans) == 5
    at_once = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
    # Each stub runs 1 s, so the DAG's parallelism (8) alone would run all 5 together.
    assert at_once == min(unloads, copies)
    assert any("waiting for semaphore r2a-limits/" in m for m in messages)


def test_a_missing_semaphore_key_errs_the_node_in_one_line(tmp_path):
    path = tmp_path / "limits.yaml"
    path.write_text(yaml.safe_dump({"kind": "ConfigMap", "metadata": {"name": d.SEMAPHORE_CONFIGMAP},
                                    "data": {d.UNLOADS_KEY: "2"}}))
    messages: list[str] = []
    result = run_workflow(_transfer_workflow(tmp_path, 1), {}, LocalEnvironment(config_map_files=(path,)),
                          tmp_path / "run", progress=messages.append)
    assert result.phase == "Failed" and [n.phase for n in result.failed_nodes] == ["Errored", "Errored"]
    assert any(f"semaphore r2a-limits/{d.COPIES_KEY}: {path} has no key" in m for m in messages)


@pytest.mark.parametrize("value", ["-1", "four"])
def test_a_limit_that_is_not_a_count_is_refused(tmp_path, value):
    path = tmp_path / "limits.yaml"
    path.write_text(yaml.safe_dump({"kind": "ConfigMap", "metadata": {"name": d.SEMAPHORE_CONFIGMAP},
                                    "data": {d.UNLOADS_KEY: value}}))
    with pytest.raises(SemaphoreError, match="is not a count"):
        ConfigMapLimits((path,))(UNLOADS)


def _acquire_in_thread(semaphores: Semaphores, refs: list[SemaphoreRef]) -> tuple[threading.Event,
                                                                                   threading.Event]:
    got, release = threading.Event(), threading.Event()

    def run() -> None:
        with semaphores.hold(refs):
            got.set()
            release.wait(10)

    threading.Thread(target=run, daemon=True).start()
    return got, release


def test_an_edit_of_the_configmap_applies_to_the_next_node_while_the_run_goes(tmp_path):
    path = limits_file(tmp_path / "limits.yaml", 1, 1)
    semaphores = Semaphores(tmp_path / "slots", ConfigMapLimits((path,)), poll_s=0.02)
    with semaphores.hold([UNLOADS, COPIES]):
        got, release = _acquire_in_thread(semaphores, [UNLOADS, COPIES])
        assert not got.wait(0.5)  # limit 1, held here
        limits_file(path, 2, 2)  # kubectl edit configmap r2a-limits
        assert got.wait(5)
        release.set()


def test_slots_are_shared_by_every_run_using_the_same_folder_and_never_half_held(tmp_path):
    limits = {UNLOADS: 1, COPIES: 1}
    first = Semaphores(tmp_path / "slots", limits.__getitem__, poll_s=0.02)
    second = Semaphores(tmp_path / "slots", limits.__getitem__, poll_s=0.02)  # another run-local against it
    with first.hold([COPIES]):
        got, release = _acquire_in_thread(second, [UNLOADS, COPIES])
        assert not got.wait(0.5)
        # The waiting node keeps no UNLOAD slot while the COPY slot is missing, so an UNLOAD-only node still runs.
        with first.hold([UNLOADS]):
            pass
    assert got.wait(5)
    release.set()


def test_a_zero_limit_holds_every_node_back(tmp_path):
    semaphores = Semaphores(tmp_path / "slots", {UNLOADS: 0}.__getitem__, poll_s=0.02)
    got, release = _acquire_in_thread(semaphores, [UNLOADS])
    assert not got.wait(0.3)
    release.set()
