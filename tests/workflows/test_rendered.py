"""The committed YAML is what the Hera definitions render, and Hera's models accept it unchanged."""

from __future__ import annotations

import yaml
from hera.workflows import models

from workflows.render import RENDERED_DIR, manifests, render

KINDS = {"Workflow": models.Workflow, "WorkflowTemplate": models.WorkflowTemplate,
         "CronWorkflow": models.CronWorkflow}


def test_rendered_files_are_not_stale(tmp_path):
    fresh = {p.name: p.read_text() for p in render(tmp_path)}
    committed = {p.name: p.read_text() for p in RENDERED_DIR.glob("*.yaml")}
    assert fresh == committed, "workflows/rendered is stale: run `python -m workflows.render`"


def test_hera_models_round_trip_without_dropping_fields():
    for name, text in manifests().items():
        doc = yaml.safe_load(text)
        model = KINDS[doc["kind"]].model_validate(doc)
        assert model.model_dump(by_alias=True, exclude_none=True, mode="json") == doc, name


def test_the_step_defaults_a_workflow_parameter_repeats_are_the_steps():
    """Workflow parameters spell some steps' defaults again as text (workflows never import steps): they must agree."""
    from steps.load_schema.fanout import OWN_POD_MIN_MB
    from steps.table_transfer.plan import DEFAULT_MERGE_IN_ONE_MB
    from workflows.definitions import WORKFLOW_PARAMETERS

    defaults = {name: value for name, value, _ in WORKFLOW_PARAMETERS}
    assert float(defaults["merge-in-one-mb"]) == DEFAULT_MERGE_IN_ONE_MB
    assert float(defaults["own-pod-min-mb"]) == OWN_POD_MIN_MB
