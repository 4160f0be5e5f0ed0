"""Rendered manifests against Argo v4.1.2's full CRD schemas (../shared/argo-crds, see its README), and the custom
Prometheus metrics they declare against Argo's rules for them (https://argo-workflows.readthedocs.io/en/latest/metrics/).

What the Kubernetes API server would check structurally; the CRDs' CEL rules are not evaluated here.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from shared.argo_outputs import ENV as OUTPUTS_ENV
from shared.argo_outputs import TRANSFER_TOTALS
from workflows.render import RENDERED_DIR

CRD_DIR = Path(__file__).resolve().parents[3] / "shared" / "argo-crds"
CRD_FILES = {"Workflow": "argoproj.io_workflows.yaml", "WorkflowTemplate": "argoproj.io_workflowtemplates.yaml",
             "CronWorkflow": "argoproj.io_cronworkflows.yaml"}


def to_json_schema(node):
    """OpenAPI v3 of a CRD -> strict JSON Schema (unknown fields rejected, int-or-string both ways)."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    # A "description" holding a string is documentation; one holding a schema is a property of that name.
    out = {k: to_json_schema(v) for k, v in node.items()
           if not (k == "description" and isinstance(v, str))
           and k != "x-kubernetes-validations" and not k.startswith("x-kubernetes-list")}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["type"] = ["integer", "string"]
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if out.get("type") == "object" and "properties" in out and not preserve:
        out.setdefault("additionalProperties", False)
    out.pop("x-kubernetes-map-type", None)
    return out


@functools.cache  # converting a CRD takes seconds; every test of a kind shares one validator
def validator(kind: str) -> jsonschema.Draft202012Validator:
    crd = yaml.safe_load((CRD_DIR / CRD_FILES[kind]).read_text())
    return jsonschema.Draft202012Validator(to_json_schema(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]))


@pytest.mark.parametrize("path", sorted(RENDERED_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_rendered_manifest_matches_argo_crd(path):
    doc = yaml.safe_load(path.read_text())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(doc["kind"]).iter_errors(doc)]
    assert errors == []


def test_schema_rejects_an_unknown_field():
    doc = yaml.safe_load((RENDERED_DIR / "workflowtemplate-redshift-to-alloydb.yaml").read_text())
    doc["spec"]["templates"][0]["retryStrategy"]["retryPolicyy"] = "Always"
    assert list(validator("WorkflowTemplate").iter_errors(doc))


def test_auth_proxy_variant_matches_argo_crd_and_puts_the_proxy_beside_alloydb_steps():
    from workflows.render import manifests

    instance = "projects/p/locations/europe-west1/clusters/c/instances/i"
    for name, text in manifests(auth_proxy=instance).items():
        doc = yaml.safe_load(text)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator(doc["kind"]).iter_errors(doc)]
        assert errors == [], name
        spec = doc["spec"].get("workflowSpec", doc["spec"])
        with_proxy = {t["name"] for t in spec.get("templates", [])
                      if any(s["name"] == "alloydb-auth-proxy" and instance in s["args"]
                             for s in t.get("sidecars", []))}
        if "templates" in spec and "retry" not in name:
            assert with_proxy == {"load-schema-pre", "load-schema-post", "table-transfer"}, name
        elif "templates" in spec:
            assert with_proxy == {"table-transfer"}, name
    assert "alloydb-auth-proxy" not in (RENDERED_DIR / "workflow-local.yaml").read_text()  # private IP by default


# Variables a template-level metric may use (https://argo-workflows.readthedocs.io/en/latest/variables/#metrics)
# and, for the workflow-level one, workflow.duration / workflow.status; the labels never name a table (cardinality).
TEMPLATE_METRIC_VARIABLES = re.compile(r"status|duration|exitCode|outputs\.parameters\.[\w-]+|workflow\.name"
                                       r"|workflow\.parameters\.[\w-]+")
WORKFLOW_METRIC_VARIABLES = re.compile(r"workflow\.(duration|status|name|parameters\.[\w-]+)")


def _specs():
    for path in sorted(RENDERED_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        spec = doc["spec"].get("workflowSpec", doc["spec"])
        if "templates" in spec:
            yield path.name, doc, spec


def _check_metric(metric: dict, allowed: re.Pattern, where: str, helps: dict[str, str]) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_]+", metric["name"]), where  # Argo: alphanumerics and _ only
    assert helps.setdefault(metric["name"], metric["help"]) == metric["help"], where  # one help per name
    for tag in re.findall(r"\{\{(.*?)\}\}", json.dumps(metric)):
        assert allowed.fullmatch(tag.strip()), (where, tag)
    assert {label["key"] for label in metric.get("labels", [])} >= {"run", "database"}, where
    for label in metric.get("labels", []):
        assert "item" not in label["value"] and "inputs." not in label["value"], where  # never per table
    kinds = [k for k in ("counter", "gauge", "histogram") if k in metric]
    assert len(kinds) == 1, where
    if "histogram" in metric:
        buckets = metric["histogram"]["buckets"]
        assert buckets == sorted(buckets) and len(set(buckets)) == len(buckets), where


def test_transfer_and_run_metrics_are_declared_in_every_rendered_pipeline_and_crd_valid():
    helps: dict[str, str] = {}
    for name, doc, spec in _specs():
        assert list(validator(doc["kind"]).iter_errors(doc)) == [], name
        run_metrics = spec["metrics"]["prometheus"]
        assert [m["name"] for m in run_metrics] == ["r2a_run_duration_seconds"], name
        for metric in run_metrics:
            _check_metric(metric, WORKFLOW_METRIC_VARIABLES, name, helps)
        transfer = next(t for t in spec["templates"] if t["name"] == "table-transfer")
        metrics = transfer["metrics"]["prometheus"]
        assert {m["name"] for m in metrics} == {
            "r2a_table_transfer_duration_seconds", "r2a_rows_loaded_total", "r2a_bytes_unloaded_total",
            "r2a_tables_transferred_total", "r2a_tables_failed_total", "r2a_transfer_pods_failed_total"}, name
        declared = {p["name"] for p in transfer["outputs"]["parameters"]}
        assert declared == set(TRANSFER_TOTALS)
        for parameter in transfer["outputs"]["parameters"]:
            # the file the step writes (shared/argo_outputs.py) under the folder the template gives it
            env = {e["name"]: e["value"] for e in transfer["container"]["env"]}
            assert parameter["valueFrom"] == {"path": f"{env[OUTPUTS_ENV]}/{parameter['name']}", "default": "0"}
        for metric in metrics:
            _check_metric(metric, TEMPLATE_METRIC_VARIABLES, f"{name}: {metric['name']}", helps)
            for tag in re.findall(r"outputs\.parameters\.([\w-]+)", json.dumps(metric)):
                assert tag in declared, (name, metric["name"], tag)
        others = [t["name"] for t in spec["templates"] if "metrics" in t and t["name"] != "table-transfer"]
        assert others == [], name


@pytest.mark.parametrize("breakage", ["no help", "no buckets", "unknown field"])
def test_schema_rejects_a_broken_metric(breakage):
    doc = yaml.safe_load((RENDERED_DIR / "workflowtemplate-redshift-to-alloydb.yaml").read_text())
    transfer = next(t for t in doc["spec"]["templates"] if t["name"] == "table-transfer")
    histogram = next(m for m in transfer["metrics"]["prometheus"] if "histogram" in m)
    if breakage == "no help":
        del histogram["help"]
    elif breakage == "no buckets":
        del histogram["histogram"]["buckets"]
    else:
        histogram["histogram"]["bucket"] = histogram["histogram"].pop("buckets")
    assert list(validator("WorkflowTemplate").iter_errors(doc))
