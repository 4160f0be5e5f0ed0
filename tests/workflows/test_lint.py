"""Checks only the Argo controller would make (no controller runs here): references, secrets, depends."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from workflows.render import RENDERED_DIR

SECRETS_EXAMPLE = Path(__file__).resolve().parents[2] / "k8s" / "secrets.yaml.example"
TASK_IN_DEPENDS = re.compile(r"([a-z][a-z0-9-]*)\.(Succeeded|Failed|Errored|Skipped|Daemoned|AnySucceeded|AllFailed)")


def specs():
    for path in sorted(RENDERED_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        spec = doc["spec"].get("workflowSpec", doc["spec"])
        if "templates" in spec:
            yield path.name, spec


def example_secrets() -> dict[str, set[str]]:
    return {d["metadata"]["name"]: set(d["stringData"]) for d in yaml.safe_load_all(SECRETS_EXAMPLE.read_text())}


def test_referenced_secrets_and_keys_exist_in_the_example():
    known = example_secrets()
    for name, spec in specs():
        for vol in spec.get("volumes", []):
            assert vol["secret"]["secretName"] in known, (name, vol)
        for tmpl in spec["templates"]:
            for env in tmpl.get("container", {}).get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in known.get(ref["name"], set()), (name, ref)


def test_tasks_templates_and_depends_references_exist():
    for name, spec in specs():
        templates = {t["name"] for t in spec["templates"]}
        assert spec["entrypoint"] in templates
        for tmpl in spec["templates"]:
            tasks = tmpl.get("dag", {}).get("tasks", [])
            task_names = {t["name"] for t in tasks}
            for task in tasks:
                assert task["template"] in templates, (name, task["name"])
                assert "continueOn" not in task or not any("depends" in t for t in tasks), (name, task["name"])
                for ref, _ in TASK_IN_DEPENDS.findall(task.get("depends", "")):
                    assert ref in task_names, (name, task["name"], ref)
