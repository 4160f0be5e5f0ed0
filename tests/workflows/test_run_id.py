"""Every run gets a run id: the CronWorkflow leaves run-id empty and each of its steps then uses the workflow's name
(unique per scheduled run, kept by `argo retry`); a submitted run keeps the id it was given. The `{{=…}}` expression
is evaluated with run-local's evaluator of Argo's expr subset (the controller cannot run here)."""

from __future__ import annotations

import yaml

from shared.objectstore import check_run_id
from workflows.expressions import substitute
from workflows.render import RENDERED_DIR

CRON_RUN_NAME = "redshift-to-alloydb-nightly-1764036000"  # what Argo names a CronWorkflow's run: <cron>-<unix time>


def _manifest(name: str) -> dict:
    return yaml.safe_load((RENDERED_DIR / name).read_text())


def _run_id_arguments(spec: dict) -> list[str]:
    """The value after every --run-id of every pod template."""
    values = []
    for template in spec["templates"]:
        args = (template.get("container") or {}).get("args") or []
        values += [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--run-id"]
    return values


def _defaults(spec: dict) -> dict[str, str]:
    return {p["name"]: p.get("value", "") for p in spec["arguments"]["parameters"]}


def test_the_cron_workflow_gives_each_scheduled_run_its_own_run_id():
    cron = _manifest("cronworkflow-redshift-to-alloydb.yaml")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    spec = cron["spec"]["workflowSpec"]
    assert _defaults(spec)["run-id"] == ""
    arguments = _run_id_arguments(spec)
    assert len(arguments) >= 6
    variables = {f"workflow.parameters.{k}": v for k, v in _defaults(spec).items()} | {"workflow.name": CRON_RUN_NAME}
    for argument in arguments:
        run_id = substitute(argument, variables)
        assert run_id == CRON_RUN_NAME
        assert check_run_id(run_id) == CRON_RUN_NAME


def test_a_given_run_id_is_used_by_every_step_of_the_template():
    spec = _manifest("workflowtemplate-redshift-to-alloydb.yaml")["spec"]
    variables = {f"workflow.parameters.{k}": v for k, v in _defaults(spec).items()}
    variables |= {"workflow.parameters.run-id": "sales_20260101_020000", "workflow.name": "redshift-to-alloydb-x7k2p"}
    assert {substitute(a, variables) for a in _run_id_arguments(spec)} == {"sales_20260101_020000"}
