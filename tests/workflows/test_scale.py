"""A 5,000-table database against Argo's limits: the manifests do not grow with the table count, the fan-out list
stays under the 128 KB parameter limit and 1,000 items, and run-local drives the real templates with such a list
(each transfer stubbed by the same command line the pod would run, printed instead of executed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from steps.load_schema.fanout import MAX_ITEMS, plan_fanout
from steps.load_schema.tables import largest_first
from workflows.local_env import LocalEnvironment
from workflows.render import RENDERED_DIR
from workflows.run_local import run_workflow

ARGO_PARAMETER_LIMIT = 128 * 1024
ETCD_OBJECT_LIMIT = 1536 * 1024  # Kubernetes' default request size limit for one object
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


@pytest.mark.long
def test_run_local_fans_out_a_5000_table_plan_through_the_rendered_templates(tmp_path):
    plan = plan_fanout(five_thousand_tables())
    spec = yaml.safe_load((RENDERED_DIR / "workflow-local.yaml").read_text())["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    transfer = templates["table-transfer"]
    # The pod's command line, printed instead of run: everything else (parameters, the item flag expression,
    # withParam over load-schema's stdout) is the rendered YAML's.
    transfer["container"]["command"] = ["python", "-c", "import sys; print(' '.join(sys.argv[1:]))"]
    transfer.pop("synchronization")
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
    result = run_workflow(path, {"run-id": "big_20260101_000000"}, LocalEnvironment(), tmp_path / "run",
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
