"""Read a run folder into checked records: the plan, every table result, every step result, the schema reports.

`collect` only reads (listing results/ and steps/ by prefix, never a list passed in); `parse_inputs` is the pure
part that validates each document against the result schema and turns it into dataclasses. A broken input file
never stops the report: it is recorded as an `InputProblem` and shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from shared import stepnames
from shared.documents._checks import format_version, object_list
from shared.documents.batch import Batch
from shared.documents.objects import CHANGES, NOT_MIGRATED, ObjectOutcome
from shared.documents.objects import FORMAT_VERSION as OBJECTS_FORMAT_VERSION
from shared.documents.tables import FORMAT_VERSION as TABLES_FORMAT_VERSION
from shared.documents.tables import PlannedTable
from shared.errors import BadInputError
from shared.identifiers import parse_table_ref
from shared.layout import (
    BATCHES_DIR,
    LOAD_REPORT_JSON,
    PLAN_JSON,
    POST_DATA_REPORT_JSON,
    RESULTS_DIR,
    REWRITE_REPORT_JSON,
    STEPS_DIR,
    TABLES_JSON,
    VALIDATION_REPORT_JSON,
    result_name,
)
from shared.log import one_line
from shared.objectstore import ObjectStore, RunLayout
from shared.results import StepResult, TableResult, load_schema, step_result_from_dict, table_result_from_dict

# The schema reports in pipeline order: for an object reported by several, the earliest stage explains it.
OBJECT_REPORTS = (
    ("rewrite_ddl", REWRITE_REPORT_JSON),
    ("validate_restore", VALIDATION_REPORT_JSON),
    ("load_schema_pre_data", LOAD_REPORT_JSON),
    ("load_schema_post_data", POST_DATA_REPORT_JSON),
)
PLAN_FILE = TABLES_JSON
REPORT_STEP = stepnames.REPORT
RUN_PLAN_FILE = PLAN_JSON  # the dry run's sizes and estimate (steps/plan); tables.json is the fan-out plan


@dataclass
class RawRun:
    """The run folder's JSON documents by path relative to the run root ("results/public.sales.json")."""

    run_id: str
    documents: dict[str, Any] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # path -> why it could not be parsed


@dataclass
class PlanEntry:
    table: str  # Redshift name, canonical
    target: str  # AlloyDB name, canonical
    size_mb: float | None = None  # svv_table_info's size when planned: the report's size classes


@dataclass
class ObjectEntry:
    stage: str  # the step whose report says so
    kind: str
    name: str
    target_name: str | None
    status: str
    reason: str
    violations: int | None = None
    change: str = ""  # refresh runs: created | refreshed | unchanged | changed | dropped_in_source


@dataclass
class InputProblem:
    path: str
    reason: str


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


def canonical(name: str) -> str:
    """One spelling per table so plan, results and reports match ("Public".sales and public.sales differ)."""
    try:
        return str(parse_table_ref(name))
    except Exception:
        return name


def result_path(table: str) -> str:
    """Where table_transfer writes `table`'s result, relative to the run root (as RunLayout.result builds it)."""
    try:
        return result_name(parse_table_ref(table))
    except Exception:
        return f"{RESULTS_DIR}{table}.json"  # no file has this name: RunLayout names results by TableRef


def named_documents(layout: RunLayout) -> list[str]:
    """The URLs of the run folder's single documents the report reads: the plans and the object reports."""
    return [layout.tables_json, layout.plan_json, layout.rewrite_report_json, layout.validation_report_json,
            layout.load_report_json, layout.post_data_report_json]


def collect(store: ObjectStore, layout: RunLayout) -> RawRun:
    """Every JSON document the report reads, fetched in parallel. A run folder with none of them is bad input."""
    prefixes = (layout.results_prefix, layout.steps_prefix, layout.batches_prefix)
    listed = [info.url for prefix in prefixes for info in store.list(prefix) if info.url.endswith(".json")]
    raw = RawRun(layout.run_id)
    for url, data in store.read_many(named_documents(layout) + listed):
        if data is None:
            continue
        path = layout.relative(url)
        try:
            raw.documents[path] = json.loads(data)
        except ValueError as exc:
            raw.unreadable[path] = f"not valid JSON: {exc}"
    if not raw.documents and not raw.unreadable and not _has_any(store, layout):
        raise BadInputError(f"run folder {layout.root} not found (no plan, results, step results or reports)",
                            "Check --run-id, R2A_GCS_BUCKET and R2A_GCS_PREFIX")
    return raw


def _has_any(store: ObjectStore, layout: RunLayout) -> bool:
    return any(store.exists(url) for url in (layout.catalog_json, layout.schema_redshift_sql))


@lru_cache(maxsize=2)
def _validator(definition: str):
    import fastjsonschema

    schema = load_schema()
    return fastjsonschema.compile({"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]}, use_default=False)


def check_record(document: Any, definition: str) -> str | None:
    """Why `document` is not a valid record of `definition` (table_result / step_result), or None."""
    import fastjsonschema

    try:
        _validator(definition)(document)
    except fastjsonschema.JsonSchemaValueException as exc:
        return exc.message
    return None


def parse_inputs(raw: RawRun) -> RunInputs:
    problems = [InputProblem(path, reason) for path, reason in sorted(raw.unreadable.items())]
    plan = _plan(raw, problems)
    results: dict[str, TableResult] = {}
    invalid: dict[str, str] = {}
    steps: list[StepResult] = []
    for path in sorted(raw.documents):
        document = raw.documents[path]
        if path.startswith(RESULTS_DIR):
            record, why = _record(document, "table_result", raw.run_id)
            if record is None:
                problems.append(InputProblem(path, why))
                invalid[path] = f"invalid result file {path}: {why}"
            else:
                results[canonical(record["table"])] = table_result_from_dict(record)
        elif path.startswith(STEPS_DIR):
            record, why = _record(document, "step_result", raw.run_id)
            if record is None:
                problems.append(InputProblem(path, why))
            elif record["step"] != REPORT_STEP:  # an earlier report's own record is not part of the run's flow
                steps.append(step_result_from_dict(record))
    for path, why in raw.unreadable.items():
        if path.startswith(RESULTS_DIR):
            invalid[path] = f"invalid result file {path}: {why}"
    steps.sort(key=lambda s: (s.started_at, s.step))
    return RunInputs(raw.run_id, plan, results, steps, _objects(raw, problems), problems, invalid,
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


def _record(document: Any, definition: str, run_id: str) -> tuple[dict | None, str]:
    why = check_record(document, definition)
    if why is None and document["run_id"] != run_id:
        why = f"belongs to run {document['run_id']!r}, not {run_id!r}"
    return (document, "") if why is None else (None, why)


def _plan(raw: RawRun, problems: list[InputProblem]) -> list[PlanEntry] | None:
    """tables.json's entries; an entry that is not a valid PlannedTable is a problem, the others still count."""
    document = raw.documents.get(PLAN_FILE)
    if document is None:
        return None
    try:
        format_version(document, PLAN_FILE, TABLES_FORMAT_VERSION)
        entries = object_list(document, "tables", PLAN_FILE)
    except BadInputError as exc:
        problems.append(InputProblem(PLAN_FILE, exc.reason.removeprefix(f"{PLAN_FILE}: ")))
        return None
    plan = []
    for position, entry in enumerate(entries):
        try:
            table = PlannedTable.from_json(entry, f"tables[{position}]")
        except BadInputError as exc:
            problems.append(InputProblem(PLAN_FILE, exc.reason))
            continue
        plan.append(PlanEntry(canonical(table.table), canonical(str(table.target)), table.size_mb))
    return plan


def _objects(raw: RawRun, problems: list[InputProblem]) -> list[ObjectEntry]:
    """Every entry of the object reports (shared/documents/objects.py); an entry that is not a valid ObjectOutcome
    is a problem, the others still count."""
    objects = []
    for stage, name in OBJECT_REPORTS:
        document = raw.documents.get(name)
        if document is None:
            continue
        try:
            format_version(document, name, OBJECTS_FORMAT_VERSION)
            entries = object_list(document, "objects", name)
        except BadInputError as exc:
            problems.append(InputProblem(name, exc.reason.removeprefix(f"{name}: ")))
            continue
        for position, entry in enumerate(entries):
            try:
                outcome = ObjectOutcome.from_json(entry, f"objects[{position}]")
            except BadInputError as exc:
                problems.append(InputProblem(name, exc.reason))
                continue
            violations, change = outcome.details.get("violations"), outcome.details.get("change")
            objects.append(ObjectEntry(stage, outcome.kind, outcome.name, outcome.target_name,
                                       outcome.status, one_line(outcome.reason or ""),
                                       violations if isinstance(violations, int) else None,
                                       change if change in CHANGES else ""))
            if outcome.details.get("kept"):  # existed already (earlier attempt or on-existing=skip): it is migrated
                objects[-1].status = "kept"
    return objects


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
