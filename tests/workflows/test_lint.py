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
        for tmpl in spec["templates"]:
            for vol in spec.get("volumes", []) + tmpl.get("volumes", []):
                if "secret" in vol:
                    assert vol["secret"]["secretName"] in known, (name, vol)
                    for item in vol["secret"].get("items", []):
                        assert item["key"] in known[vol["secret"]["secretName"]], (name, vol)
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


RBAC = Path(__file__).resolve().parents[2] / "k8s" / "rbac.yaml"
LIMITS = Path(__file__).resolve().parents[2] / "k8s" / "limits.yaml"


def test_service_account_and_semaphore_configmap_exist_in_the_k8s_manifests():
    documents = {(d["kind"], d["metadata"]["name"]): d
                 for path in (RBAC, LIMITS) for d in yaml.safe_load_all(path.read_text())}
    role = documents[("Role", "r2a-executor")]
    assert {"workflowtaskresults"} <= {r for rule in role["rules"] for r in rule["resources"]}
    binding = documents[("RoleBinding", "r2a-executor")]
    assert binding["roleRef"]["name"] == "r2a-executor"
    for name, spec in specs():
        account = spec.get("serviceAccountName")
        assert ("ServiceAccount", account) in documents, (name, account)
        # Only Argo's executor holds a token with rights; the step containers get none.
        assert {"kind": "ServiceAccount", "name": account, "namespace": "argo"} not in binding["subjects"]
        executor = spec["executor"]["serviceAccountName"]
        assert {"kind": "ServiceAccount", "name": executor, "namespace": "argo"} in binding["subjects"]
        assert spec["automountServiceAccountToken"] is False
        for template in spec["templates"]:
            for semaphore in (template.get("synchronization") or {}).get("semaphores", []):
                ref = semaphore["configMapKeyRef"]
                assert ref["key"] in documents[("ConfigMap", ref["name"])]["data"], (name, ref)
