"""Submitting to the Argo Server (Hera's WorkflowsService) with the argo CLI's conventions, and reading a run's
results from GCS for `r2a status`."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import requests
import urllib3
import yaml
from hera.workflows import Workflow, WorkflowsService
from hera.workflows import models as m

from shared.errors import BadInputError, ConfigError, R2AError, TransientError
from shared.log import one_line, register_secret
from shared.objectstore import ObjectStore, RunLayout
from shared.results import TableResult
from shared.runstate import TableState, read_run_state
from workflows import definitions as d
from workflows.render import RENDERED_DIR


@dataclass(frozen=True)
class ArgoServer:
    url: str
    token: str | None
    namespace: str
    verify_tls: bool

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ArgoServer:
        """ARGO_SERVER (host:port or URL), ARGO_TOKEN, ARGO_NAMESPACE, ARGO_INSECURE_SKIP_VERIFY, ARGO_HTTP1."""
        environ = os.environ if environ is None else environ
        server = environ.get("ARGO_SERVER", "").strip()
        if not server:
            raise ConfigError("ARGO_SERVER is not set (the Argo Server as host:port or https://host:port)",
                              "Or use --dry-run to print the manifest; `r2a run-local` runs it on this machine")
        url = server if "://" in server else f"https://{server}"
        token = environ.get("ARGO_TOKEN") or None
        if token:
            register_secret(token)
        insecure = environ.get("ARGO_INSECURE_SKIP_VERIFY", "").lower() in ("1", "true", "yes")
        return cls(url=url, token=token, namespace=environ.get("ARGO_NAMESPACE", d.NAMESPACE),
                   verify_tls=not insecure)

    def service(self) -> WorkflowsService:
        return WorkflowsService(host=self.url, token=self.token, namespace=self.namespace, verify_ssl=self.verify_tls)


def check_arguments(template: str, arguments: Mapping[str, str]) -> None:
    """Refuse a parameter the WorkflowTemplate does not declare: Argo would accept it silently and the run would use
    the default instead (a misspelt `-p databse=sales` migrates `dev`)."""
    declared = declared_parameters(template)
    unknown = sorted(set(arguments) - set(declared))
    if unknown:
        raise BadInputError(f"unknown parameter(s) for {template}: {', '.join(unknown)}",
                            "See workflows/README.md for the parameters")


def declared_parameters(template: str) -> list[str]:
    """The parameter names of the rendered WorkflowTemplate `template` (what the cluster has after kubectl apply)."""
    path = RENDERED_DIR / f"workflowtemplate-{template}.yaml"
    document = yaml.safe_load(path.read_text())
    return [p["name"] for p in document["spec"].get("arguments", {}).get("parameters", [])]


def template_workflow(template: str, arguments: Mapping[str, str]) -> Workflow:
    """A Workflow that runs a WorkflowTemplate with these arguments (what `argo submit --from` would send)."""
    return Workflow(generate_name=f"{template}-", namespace=d.NAMESPACE,
                    workflow_template_ref=m.WorkflowTemplateRef(name=template),
                    arguments=[m.Parameter(name=k, value=v) for k, v in arguments.items()] or None,
                    labels={"app.kubernetes.io/part-of": "r2a"})


def submit(workflow: Workflow, server: ArgoServer) -> str:
    """Create the Workflow on the Argo Server; returns its name. Failures are one line naming the server."""
    workflow.namespace = server.namespace
    workflow.workflows_service = server.service()
    try:
        with warnings.catch_warnings():
            if not server.verify_tls:  # asked for explicitly: no per-request InsecureRequestWarning on stderr
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            created = workflow.create()
    except requests.exceptions.SSLError:
        raise ConfigError(f"the Argo Server at {server.url} presented a TLS certificate this machine does not trust",
                          "Set ARGO_INSECURE_SKIP_VERIFY=true for a self-signed one (as the argo CLI's --insecure-skip-verify)"
                          ) from None
    except requests.exceptions.ConnectionError:
        raise TransientError(f"cannot reach the Argo Server at {server.url}") from None
    except requests.exceptions.RequestException as exc:
        raise TransientError(f"the Argo Server at {server.url} did not answer: {type(exc).__name__}") from None
    except Exception as exc:  # Hera raises its own exception per HTTP status
        text = one_line(exc, 200)
        raise R2AError(f"the Argo Server at {server.url} refused the workflow: {text}") from None
    return created.metadata.name


@dataclass
class TableStatus:
    table: str
    status: str
    rows: int | None
    seconds: float | None
    attempts: int | None
    error: str
    sync_mode: str = ""  # an incremental sync's (append, upsert); empty for a full load
    watermark: str = ""  # the watermark the table is at after this run's sync (its old one if the sync failed)
    synced_at: str = ""  # when the table's last successful sync committed: this run's, else the one before it
    planned: bool = True  # in tables.json: only planned tables decide the exit code
    has_result: bool = True  # False: no valid result file (not run yet, invalid, skipped by a schema step)


def _last_sync(result: TableResult, succeeded: bool) -> str:
    """A synced table's last successful sync: this run's when it succeeded, else the previous one's commit time
    (synced_before, from r2a_meta.sync_state), which the failed sync left in place."""
    if not result.sync_mode:
        return ""
    return str((result.finished_at if succeeded else result.synced_before) or "")


def table_status(state: TableState) -> TableStatus:
    """A table's line of `r2a status`: its state (shared/runstate.py, as the report has it) and its result's figures.
    A table without a result shows why (an invalid result file, a schema step that skipped it), except a not_run
    one: it may still be running."""
    result = state.result
    if result is None:
        return TableStatus(state.table, state.status, None, None, None,
                           "" if state.status == "not_run" else state.reason, planned=state.planned,
                           has_result=False)
    synced = result.status == "succeeded"
    return TableStatus(state.table, state.status, result.rows_loaded, result.duration_s, len(result.attempts) or None,
                       result.error.message if result.error else "", result.sync_mode or "",
                       str((result.watermark_to if synced else result.watermark_from) or ""),
                       _last_sync(result, synced), state.planned)


def run_status(store: ObjectStore, layout: RunLayout) -> list[TableStatus]:
    """Every table of the run with its state, as the report lists it (shared/runstate.py)."""
    return [table_status(state) for state in read_run_state(store, layout).tables]
