"""A 5,000-table database against Argo's limits: the manifests do not grow with the table count, the fan-out list
stays under the 128 KB parameter limit and 1,000 items, the node status of such a run fits etcd once Argo compresses
it, pods are garbage-collected, and run-local drives the real templates with such a list (each transfer stubbed by
the same command line the pod would run, printed instead of executed)."""

from __future__ import annotations

import base64
import gzip
import json
import random
from pathlib import Path

import pytest
import yaml

from steps.load_schema.fanout import MAX_ITEMS, plan_fanout
from steps.load_schema.tables import largest_first
from workflows.local_env import LIMITS_FILE, LocalEnvironment
from workflows.render import RENDERED_DIR
from workflows.run_local import node_progress, run_workflow

ARGO_PARAMETER_LIMIT = 128 * 1024
ETCD_OBJECT_LIMIT = 1536 * 1024  # Kubernetes' default request size limit for one object
ETCD_OBJECT_LIMIT_ARGO = 1024 * 1024  # the size Argo keeps a Workflow under before compressing/offloading nodes
README = Path(__file__).resolve().parents[2] / "workflows" / "README.md"


def five_thousand_tables() -> list[dict]:
    tables = [{"table": f'sales_{i % 40}."Quarterly Orders {i:05d} with a longish quoted name"',
               "size_mb": [0.1, 2, 40, 300, 2048][i % 5] if i % 97 else 90_000, "estimated_rows": i}
              for i in range(5000)]
    return largest_first(tables)


def test_the_fan_out_of_5000_tables_fits_argo_parameter_and_item_limits():
    plan = plan_fanout(five_thousand_tables())
    assert len(plan.items) <= MAX_ITEMS
    assert len(plan.to_json().encode()) < ARGO_PARAMETER_LIMIT
    assert sum(len(batch) for batch in plan.batches.values()) + sum(
        1 for item in plan.items if not item.startswith("batch-")) == 5000


def test_manifests_do_not_depend_on_the_table_count_and_stay_small():
    for path in RENDERED_DIR.glob("*.yaml"):
        text = path.read_text()
        assert len(text.encode()) < 64 * 1024, path.name  # the table list arrives at run time, never inline
        assert "Quarterly" not in text
    # Node statuses of ~1,000 fan-out nodes would push a Workflow past etcd's object limit: the README tells
    # operators to turn on node status offloading, as Argo documents for large workflows.
    readme = README.read_text()
    assert "nodeStatusOffLoad" in readme and "5,000" in readme


def _node_statuses(items: list[str], attempts: int, rng: random.Random) -> dict:
    """The /status/nodes of a finished fan-out as Argo v4 writes them: per item a Retry node (the retryStrategy)
    with one Pod child per attempt, each with its input, the four output parameters, progress, resources and
    times, and the TaskGroup listing them. Values vary as real ones do (ids, times, counts, hosts), so gzip gets no
    easier data than a real run gives it."""
    run = "redshift-to-alloydb-x7k2p"

    def stamp() -> str:
        return f"2026-01-01T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"

    def node(index: int, item: str, kind: str, attempt: int | None, children: list[str]) -> tuple[str, dict]:
        node_id = f"{run}-{rng.randrange(10**9, 10**10)}"
        name = f"{run}.table-transfer({index}:{item})" + ("" if attempt is None else f"({attempt})")
        status = {"id": node_id, "name": name, "displayName": name.split(".", 1)[1], "type": kind,
                  "templateName": "table-transfer", "templateScope": "local/", "phase": "Succeeded",
                  "boundaryID": run, "startedAt": stamp(), "finishedAt": stamp(),
                  "progress": f"{rng.randrange(1, 60)}/60",
                  "resourcesDuration": {"cpu": rng.randrange(10**5), "memory": rng.randrange(10**6)},
                  "inputs": {"parameters": [{"name": "item", "value": item}]},
                  "outputs": {"exitCode": "0", "parameters": [
                      {"name": output, "value": str(rng.randrange(10**9)),
                       "valueFrom": {"path": f"/tmp/outputs/{output}", "default": "0"}}
                      for output in ("rows", "bytes", "tables", "tables-failed")]}}
        if kind == "Pod":
            status["hostNodeName"] = f"gke-r2a-pool-1-abcdef12-{rng.randrange(50):04x}"
        if children:
            status["children"] = children
        return node_id, status

    nodes: dict = {}
    group = []
    for index, item in enumerate(items):
        pods = [node(index, item, "Pod", attempt, []) for attempt in range(attempts)]
        retry_id, retry = node(index, item, "Retry", None, [pod_id for pod_id, _ in pods])
        nodes[retry_id] = retry
        nodes.update(pods)
        group.append(retry_id)
    nodes[f"{run}-1"] = {"id": f"{run}-1", "name": f"{run}.table-transfer", "type": "TaskGroup", "children": group}
    return nodes


@pytest.mark.parametrize("attempts", [1, 4])
def test_the_node_status_of_a_5000_table_run_fits_etcd_once_argo_compresses_it(attempts):
    """Argo keeps a Workflow under etcd's ~1 MB by gzipping /status/nodes into /status/compressedNodes when it is
    too large, and offloads it to SQL only when that still does not fit and nodeStatusOffLoad is on
    (https://argo-workflows.readthedocs.io/en/latest/offloading-large-workflows/). The 5,000-table fan-out is 1,000
    items: ~2,000 nodes, over 1 MB raw, a fraction of it compressed, even when every item ran 4 times."""
    plan = plan_fanout(five_thousand_tables())
    nodes = json.dumps(_node_statuses(plan.items, attempts, random.Random(7)), separators=(",", ":")).encode()
    compressed = base64.b64encode(gzip.compress(nodes))  # what Argo stores in compressedNodes
    spec = yaml.safe_load((RENDERED_DIR / "workflowtemplate-redshift-to-alloydb.yaml").read_text())["spec"]
    stored = 2 * len(json.dumps(spec, separators=(",", ":")))  # spec + status.storedWorkflowTemplateSpec
    assert len(nodes) > ETCD_OBJECT_LIMIT_ARGO  # uncompressed it would not fit: Argo's compression is needed
    # a quarter of the limit left for what the model leaves out (conditions, messages, retried pods' extra fields)
    assert len(compressed) + stored < ETCD_OBJECT_LIMIT_ARGO * 0.75, (len(nodes), len(compressed), stored)


def test_pods_are_collected_and_finished_runs_expire():
    """Pod GC and the TTL keep a namespace of thousands of pods clean
    (https://argo-workflows.readthedocs.io/en/latest/running-at-massive-scale/): a succeeded pod is deleted after
    10 minutes, a failed one is kept for its logs until the workflow's TTL removes it with the workflow."""
    for path in RENDERED_DIR.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        spec = doc["spec"].get("workflowSpec", doc["spec"])
        if "templates" not in spec:
            continue
        assert spec["podGC"] == {"strategy": "OnPodSuccess", "deleteDelayDuration": "10m"}, path.name
        assert spec["ttlStrategy"] == {"secondsAfterSuccess": 7 * 86400, "secondsAfterFailure": 30 * 86400}, path.name


@pytest.mark.long
@pytest.mark.slow  # ~1,000 local processes: 216 s on a 2-core machine at load average ~50
def test_run_local_fans_out_a_5000_table_plan_through_the_rendered_templates(tmp_path):
    """The rendered table-transfer template, semaphores and all, over load-schema's list for 5,000 tables; each
    pod's command line is printed instead of run, and the pod reports its tables through Argo's progress file."""
    plan = plan_fanout(five_thousand_tables())
    sizes = {batch: len(tables) for batch, tables in plan.batches.items()}
    spec = yaml.safe_load((RENDERED_DIR / "workflow-local.yaml").read_text())["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    transfer = templates["table-transfer"]
    # The pod's command line, printed instead of run, and its tables written to Argo's progress file as
    # table_transfer reports them (shared/progress.py, tested with the step in tests/table_transfer):
    # everything else (parameters, the item flag expression, withParam over load-schema's stdout, the
    # semaphores) is the rendered YAML's.
    # A shell, not Python: a thousand interpreter starts would be most of the test's time.
    table_counts = " ".join(f"{batch}:{count}" for batch, count in sizes.items())
    stub = ('item=; kind=; previous=; for a in "$@"; do case "$previous" in --batch|--table) kind=$previous; '
            'item=$a;; esac; previous=$a; done; n=1; if [ "$kind" = --batch ]; then '
            f's=" {table_counts} "; ' 'n=${s#* $item:}; n=${n%% *}; fi; '
            'printf "%s/%s\\n" "$n" "$n" > "$ARGO_PROGRESS_FILE"; printf "%s\\n" "$*"')
    transfer["container"]["command"] = ["sh", "-c", stub, "table-transfer"]
    lister = {"name": "load-schema-pre", "container": {
        "image": "x", "command": ["python", "-c", f"print({plan.to_json()!r})"]}}
    document = {"kind": "Workflow", "spec": {
        "entrypoint": "main", "arguments": spec["arguments"],
        "templates": [{"name": "main", "parallelism": 16, "dag": {"tasks": [
            {"name": "load-schema-pre", "template": "load-schema-pre"},
            {"name": "table-transfer", "template": "table-transfer", "depends": "load-schema-pre",
             "withParam": "{{tasks.load-schema-pre.outputs.result}}",
             "arguments": {"parameters": [{"name": "item", "value": "{{item}}"}]}}]}},
            lister, {**transfer, "container": {**transfer["container"], "volumeMounts": [], "env": []}}]}}
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(document))
    local = LocalEnvironment(config_map_files=(LIMITS_FILE,), semaphore_dir=tmp_path / "slots")
    result = run_workflow(path, {"run-id": "big_20260101_000000"}, local, tmp_path / "run",
                          progress=lambda message: None)
    assert result.phase == "Succeeded"
    children = [n for n in result.nodes if n.task == "table-transfer" and "(" in n.name]
    assert len(children) == len(plan.items)
    commands = {n.name.split(":", 1)[1][:-1]: n.result for n in children}
    batch = next(item for item in plan.items if item.startswith("batch-"))
    alone = next(item for item in plan.items if not item.startswith("batch-"))
    assert commands[batch].startswith(f"--run-id big_20260101_000000 --batch {batch} ")
    assert commands[alone].startswith(f"--run-id big_20260101_000000 --table {alone} ")
    assert json.loads(plan.to_json()) == plan.items
    # Argo's workflow progress is the sum over the pods: every one of the 5,000 tables, once.
    assert str(node_progress(children)) == "5000/5000"
