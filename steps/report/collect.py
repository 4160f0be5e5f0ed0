"""Read a run folder into checked records: the plan, every table result, every step result, the schema reports.

`collect` only reads (listing results/, steps/ and batches/ by prefix, never a list passed in); `parse_inputs` is
the pure part that validates each document and turns it into dataclasses: the plan, results and object reports
through shared/rundocs.py (as `r2a status` reads them), the step results and batches here. A broken input file
never stops the report: it is recorded as an `InputProblem` and shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared import stepnames
from shared.documents.batch import Batch
from shared.documents.objects import NOT_MIGRATED
from shared.errors import BadInputError
from shared.layout import BATCHES_DIR, PLAN_JSON, POST_DATA_REPORT_JSON, STEPS_DIR
from shared.objectstore import ObjectStore, RunLayout
from shared.results import StepResult, TableResult, step_result_from_dict
from shared.rundocs import (
    InputProblem,
    ObjectEntry,
    PlanEntry,
    canonical,
    checked_record,
    object_report_urls,
    parse_objects,
    parse_plan,
    parse_results,
    read_documents,
)

REPORT_STEP = stepnames.REPORT
RUN_PLAN_FILE = PLAN_JSON  # the dry run's sizes and estimate (steps/plan); tables.json is the fan-out plan


@dataclass
class RawRun:
    """The run folder's JSON documents by path relative to the run root ("results/public.sales.json")."""

    run_id: str
    documents: dict[str, Any] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # path -> why it could not be parsed


@dataclass
class RunInputs:
    run_id: str
    plan: list[PlanEntry] | None  # None: tables.json is missing (load_schema pre-data never finished)
    results: dict[str, TableResult]  # canonical Redshift table name -> its result
    steps: list[StepResult]
    objects: list[ObjectEntry]  # every object entry of the schema reports, pipeline order
    problems: list[InputProblem]
    invalid_results: dict[str, str] = field(default_factory=dict)  # results/<file> -> why it was refused
    # Tables loaded after post-data ran, finished by their transfer (shared/finishing.py): what each did.
    finished_after_post_data: list[dict[str, Any]] = field(default_factory=list)
    batches: dict[str, str] = field(default_factory=dict)  # table -> the fan-out batch it was moved in


def collect(store: ObjectStore, layout: RunLayout) -> RawRun:
    """Every JSON document the report reads, fetched in parallel. A run folder with none of them is bad input."""
    urls = [layout.tables_json, layout.plan_json, *object_report_urls(layout)]
    prefixes = [layout.results_prefix, layout.steps_prefix, layout.batches_prefix]
    documents, unreadable = read_documents(store, layout, urls, prefixes)
    raw = RawRun(layout.run_id, documents, unreadable)
    if not raw.documents and not raw.unreadable and not _has_any(store, layout):
        raise BadInputError(f"run folder {layout.root} not found (no plan, results, step results or reports)",
                            "Check --run-id, R2A_GCS_BUCKET and R2A_GCS_PREFIX")
    return raw


def _has_any(store: ObjectStore, layout: RunLayout) -> bool:
    return any(store.exists(url) for url in (layout.catalog_json, layout.schema_redshift_sql))


def parse_inputs(raw: RawRun) -> RunInputs:
    """The report's records (shared/rundocs.py checks the plan, results and object reports; steps/ here)."""
    problems = [InputProblem(path, reason) for path, reason in sorted(raw.unreadable.items())]
    plan = parse_plan(raw.documents, problems)
    results, invalid = parse_results(raw.documents, raw.unreadable, raw.run_id, problems)
    steps: list[StepResult] = []
    for path in sorted(p for p in raw.documents if p.startswith(STEPS_DIR)):
        record, why = checked_record(raw.documents[path], "step_result", raw.run_id)
        if record is None:
            problems.append(InputProblem(path, why))
        elif record["step"] != REPORT_STEP:  # an earlier report's own record is not part of the run's flow
            steps.append(step_result_from_dict(record))
    steps.sort(key=lambda s: (s.started_at, s.step))
    return RunInputs(raw.run_id, plan, results, steps, parse_objects(raw.documents, problems), problems, invalid,
                     _finished_after_post_data(raw), _batches(raw, problems))


def _batches(raw: RawRun, problems: list[InputProblem]) -> dict[str, str]:
    """Table -> batch id, from load_schema's batches/<id>.json (tables moved alone are in none)."""
    members: dict[str, str] = {}
    for path in sorted(p for p in raw.documents if p.startswith(BATCHES_DIR)):
        document = raw.documents[path]
        try:
            batch = Batch.from_json(document, path)
        except BadInputError as exc:
            problems.append(InputProblem(path, exc.reason.removeprefix(f"{path}: ")))
            continue
        members.update((canonical(t), batch.batch_id) for t in batch.tables)
    return members


def _finished_after_post_data(raw: RawRun) -> list[dict[str, Any]]:
    report = raw.documents.get(POST_DATA_REPORT_JSON)
    records = report.get("finished_after_post_data") if isinstance(report, dict) else None
    return [r for r in records if isinstance(r, dict) and isinstance(r.get("table"), str)] \
        if isinstance(records, list) else []


def not_migrated(objects: list[ObjectEntry]) -> list[ObjectEntry]:
    """Objects some stage did not carry over, each once, explained by the earliest stage that dropped it."""
    seen: set[tuple[str, str]] = set()
    dropped = []
    for entry in objects:
        key = (entry.kind, canonical(entry.name) if entry.kind == "table" else entry.name)
        if entry.status in NOT_MIGRATED and key not in seen:
            seen.add(key)
            dropped.append(entry)
    return dropped
