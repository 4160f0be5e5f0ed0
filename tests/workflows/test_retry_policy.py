"""Every pod template of every rendered manifest retries transient failures only: exit 1 (shared/errors.py's
TransientError) and a lost pod (Argo's Error phase), never a permanent exit code. The expression is evaluated with
run-local's evaluator of Argo's expr subset (the controller itself cannot run here)."""

from __future__ import annotations

import pytest
import yaml

from shared.errors import ExitCode
from workflows.expressions import evaluate
from workflows.render import RENDERED_DIR


def _pod_templates(path):
    spec = yaml.safe_load(path.read_text())["spec"]
    spec = spec.get("workflowSpec", spec)
    return [t for t in spec.get("templates", []) if "container" in t or "script" in t]


# The submit Workflow only references the WorkflowTemplate; every other manifest carries pod templates.
MANIFESTS = [p for p in sorted(RENDERED_DIR.glob("*.yaml")) if _pod_templates(p)]


def test_the_manifests_with_pod_templates_are_all_checked():
    assert {p.name for p in MANIFESTS} >= {"workflowtemplate-redshift-to-alloydb.yaml", "workflow-local.yaml",
                                           "workflowtemplate-retry-failed.yaml", "workflowtemplate-cutover.yaml",
                                           "cronworkflow-redshift-to-alloydb.yaml"}


def _retried(expression: str, exit_code: int, phase: str) -> bool:
    return bool(evaluate(expression, {"lastRetry.exitCode": str(exit_code), "lastRetry.status": phase,
                                      "lastRetry.duration": "12"}))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_only_transient_failures_are_retried(path):
    for template in _pod_templates(path):
        strategy = template.get("retryStrategy")
        assert strategy, f"{path.name}: {template['name']} has no retryStrategy"
        assert 1 <= int(strategy["limit"]) <= 5, template["name"]
        assert strategy["backoff"]["maxDuration"], template["name"]
        expression = strategy["expression"]
        for code in ExitCode:
            if code is ExitCode.OK:
                continue
            assert _retried(expression, int(code), "Failed") == (code is ExitCode.FAILED), (template["name"], code)
        assert not _retried(expression, 137, "Failed"), "an OOM kill would only be killed again"
        assert _retried(expression, -1, "Error"), "a pod lost to eviction or preemption must be retried"
