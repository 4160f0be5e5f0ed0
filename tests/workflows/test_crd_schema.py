"""Rendered manifests against Argo v4.1.2's full CRD schemas (../shared/argo-crds, see its README).

What the Kubernetes API server would check structurally; the CRDs' CEL rules are not evaluated here.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jsonschema
import pytest
import yaml

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


@functools.cache  # the CRDs are large: build each validator once per session
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
