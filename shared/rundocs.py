"""A run folder's table documents read into checked records: the plan (tables.json), the table results
(results/*.json) and the schema reports' object entries, as the report and `r2a status` both read them.

`read_documents` only reads (listing folders by prefix, fetching in parallel); the `parse_*` functions are pure:
each validates what it is given and records what it could not use as an `InputProblem` instead of stopping, so a
broken file never hides the rest of the run. Names are canonicalised once here (`canonical`), so the plan, the
results and the reports match however a step spelt a table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shared.documents._checks import format_version, object_list
from shared.documents.objects import CHANGES, ObjectOutcome
from shared.documents.objects import FORMAT_VERSION as OBJECTS_FORMAT_VERSION
from shared.documents.tables import FORMAT_VERSION as TABLES_FORMAT_VERSION
from shared.documents.tables import PlannedTable
from shared.errors import BadInputError
from shared.identifiers import parse_table_ref
from shared.layout import (
    LOAD_REPORT_JSON,
    POST_DATA_REPORT_JSON,
    RESULTS_DIR,
    REWRITE_REPORT_JSON,
    TABLES_JSON,
    VALIDATION_REPORT_JSON,
    result_name,
)
from shared.log import one_line
from shared.objectstore import ObjectStore, RunLayout
from shared.results import TableResult, load_schema, table_result_from_dict

# The schema reports in pipeline order, each with its accessor: for an object reported by several, the earliest
# stage explains it.
_REPORTS: tuple[tuple[str, Callable[[RunLayout], str]], ...] = (
    ("rewrite_ddl", lambda layout: layout.rewrite_report_json),
    ("validate_restore", lambda layout: layout.validation_report_json),
    ("load_schema_pre_data", lambda layout: layout.load_report_json),
    ("load_schema_post_data", lambda layout: layout.post_data_report_json),
)
OBJECT_REPORTS = (("rewrite_ddl", REWRITE_REPORT_JSON), ("validate_restore", VALIDATION_REPORT_JSON),
                  ("load_schema_pre_data", LOAD_REPORT_JSON), ("load_schema_post_data", POST_DATA_REPORT_JSON))
PLAN_FILE = TABLES_JSON


def object_report_urls(layout: RunLayout) -> list[str]:
    return [url(layout) for _, url in _REPORTS]


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
        return f"{RESULTS_DIR}{table}.json"


def read_documents(store: ObjectStore, layout: RunLayout, urls: list[str],
                   prefixes: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON documents at `urls` and every .json under `prefixes`, fetched in parallel, by run-relative path:
    (path -> document, path -> why it is not JSON). A missing document is left out of both."""
    listed = [info.url for prefix in prefixes for info in store.list(prefix) if info.url.endswith(".json")]
    documents: dict[str, Any] = {}
    unreadable: dict[str, str] = {}
    for url, data in store.read_many(urls + listed):
        if data is None:
            continue
        path = layout.relative(url)
        try:
            documents[path] = json.loads(data)
        except ValueError as exc:
            unreadable[path] = f"not valid JSON: {exc}"
    return documents, unreadable


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


def checked_record(document: Any, definition: str, run_id: str) -> tuple[dict | None, str]:
    """(the record, "") when `document` is a valid `definition` of run `run_id`, else (None, why not)."""
    why = check_record(document, definition)
    if why is None and document["run_id"] != run_id:
        why = f"belongs to run {document['run_id']!r}, not {run_id!r}"
    return (document, "") if why is None else (None, why)


def parse_results(documents: dict[str, Any], unreadable: dict[str, str], run_id: str,
                  problems: list[InputProblem]) -> tuple[dict[str, TableResult], dict[str, str]]:
    """The valid table results under results/ by canonical Redshift name, and results/<file> -> why it was refused
    (not JSON, not the schema's, another run's)."""
    results: dict[str, TableResult] = {}
    invalid: dict[str, str] = {}
    for path in sorted(p for p in documents if p.startswith(RESULTS_DIR)):
        record, why = checked_record(documents[path], "table_result", run_id)
        if record is None:
            problems.append(InputProblem(path, why))
            invalid[path] = f"invalid result file {path}: {why}"
        else:
            results[canonical(record["table"])] = table_result_from_dict(record)
    for path, why in unreadable.items():
        if path.startswith(RESULTS_DIR):
            invalid[path] = f"invalid result file {path}: {why}"
    return results, invalid


def _entries(document: Any, name: str, key: str, version: int, read: Callable[[Any, str], Any],
             problems: list[InputProblem]) -> list[Any] | None:
    """The entries of the document's list `key`, each read by `read(entry, where)`; None when the document itself is
    unusable. An entry `read` refuses is a problem, the others still count."""
    try:
        format_version(document, name, version)
        entries = object_list(document, key, name)
    except BadInputError as exc:
        problems.append(InputProblem(name, exc.reason.removeprefix(f"{name}: ")))
        return None
    found = []
    for position, entry in enumerate(entries):
        try:
            found.append(read(entry, f"{key}[{position}]"))
        except BadInputError as exc:
            problems.append(InputProblem(name, exc.reason))
    return found


def parse_plan(documents: dict[str, Any], problems: list[InputProblem]) -> list[PlanEntry] | None:
    """tables.json's entries (None without a usable tables.json); an entry that is not a valid PlannedTable is a
    problem, the others still count."""
    document = documents.get(PLAN_FILE)
    if document is None:
        return None
    tables = _entries(document, PLAN_FILE, "tables", TABLES_FORMAT_VERSION, PlannedTable.from_json, problems)
    if tables is None:
        return None
    return [PlanEntry(canonical(table.table), canonical(str(table.target)), table.size_mb) for table in tables]


def parse_objects(documents: dict[str, Any], problems: list[InputProblem]) -> list[ObjectEntry]:
    """Every entry of the object reports (shared/documents/objects.py), pipeline order; an entry that is not a valid
    ObjectOutcome is a problem, the others still count."""
    objects = []
    for stage, name in OBJECT_REPORTS:
        document = documents.get(name)
        if document is None:
            continue
        for outcome in _entries(document, name, "objects", OBJECTS_FORMAT_VERSION, ObjectOutcome.from_json,
                                problems) or []:
            violations, change = outcome.details.get("violations"), outcome.details.get("change")
            objects.append(ObjectEntry(stage, outcome.kind, outcome.name, outcome.target_name,
                                       outcome.status, one_line(outcome.reason or ""),
                                       violations if isinstance(violations, int) else None,
                                       change if change in CHANGES else ""))
            if outcome.details.get("kept"):  # existed already (earlier attempt or on-existing=skip): it is migrated
                objects[-1].status = "kept"
    return objects
