"""Every JSON document of a run folder, read through its dataclass in shared/documents (or shared/results) and
written back: the text must not change, and both must satisfy the document's JSON Schema under shared/schemas."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from shared.documents._checks import SCHEMAS
from shared.documents.batch import Batch
from shared.documents.catalog import catalog_from_dict
from shared.documents.claim import Claim
from shared.documents.fanout import Fanout
from shared.documents.name_map import NameMap
from shared.documents.objects import ObjectsReport
from shared.documents.progress import PreDataProgress
from shared.documents.readiness import Readiness
from shared.documents.run_plan import RunPlan
from shared.documents.summary import Summary
from shared.documents.tables import TablePlan
from shared.objectstore import ObjectStore, RunLayout
from shared.results import step_result_from_dict, table_result_from_dict, to_dict


@dataclass(frozen=True)
class Definition:
    schema: str  # shared/schemas/<schema>.schema.json
    round_trip: Callable[[Any, str], Any] | None  # parsed JSON -> the same JSON through the dataclass


def _name_map(document: Any, url: str) -> Any:
    return NameMap.from_json(document, url).to_json()


def _tables(document: Any, url: str) -> Any:
    return TablePlan.from_json(document, url).to_json()


def _batch(document: Any, url: str) -> Any:
    return Batch.from_json(document, url).to_json()


def _objects_report(document: Any, url: str) -> Any:
    return ObjectsReport.from_json(document, url).to_json()


def _fanout(document: Any, url: str) -> Any:
    return Fanout.from_json(document, url).to_json()


def _progress(document: Any, url: str) -> Any:
    return PreDataProgress.from_json(document, url).to_json()


def _run_plan(document: Any, url: str) -> Any:
    return RunPlan.from_json(document, url).to_json()


def _claim(document: Any, url: str) -> Any:
    return Claim.from_json(document, url).to_json()


def _summary(document: Any, url: str) -> Any:
    return Summary.from_json(document, url).to_json()


def _readiness(document: Any, url: str) -> Any:
    return Readiness.from_json(document, url).to_json()


def _table_result(document: Any, url: str) -> Any:
    return to_dict(table_result_from_dict(document))


def _step_result(document: Any, url: str) -> Any:
    return to_dict(step_result_from_dict(document))


def _catalog(document: Any, url: str) -> Any:
    return catalog_from_dict(document, url).to_json()


def definition_of(layout: RunLayout, url: str) -> Definition | None:
    """The document definition `url` is an instance of; None: a file that is no document of the run (SQL, staged
    data, the report's text files)."""
    named = {layout.name_map_json: Definition("name_map", _name_map), layout.tables_json: Definition("tables", _tables),
             layout.catalog_json: Definition("catalog", _catalog), layout.fanout_json: Definition("fanout", _fanout),
             layout.pre_data_progress_json: Definition("pre_data_progress", _progress),
             layout.plan_json: Definition("run_plan", _run_plan), layout.summary_json: Definition("summary", _summary),
             layout.readiness_json: Definition("readiness", _readiness)}
    named |= dict.fromkeys((layout.rewrite_report_json, layout.validation_report_json, layout.load_report_json,
                            layout.post_data_report_json), Definition("objects_report", _objects_report))
    if url in named:
        return named[url]
    if url.startswith(layout.batches_prefix):
        return Definition("batch", _batch)
    if url.startswith(layout.results_prefix):
        return Definition("result", _table_result)
    if url.startswith(layout.steps_prefix):
        return Definition("result", _step_result)
    if url.startswith(layout.claims_root):
        return Definition("claim", _claim)
    return None


def _registry() -> Registry:
    resources = []
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def validator(schema: str) -> Draft202012Validator:
    contents = json.loads((SCHEMAS / f"{schema}.schema.json").read_text())
    return Draft202012Validator(contents, registry=_registry())


def check_document(definition: Definition, document: Any, url: str) -> list[str]:
    """What is wrong with `document` as an instance of `definition` (empty: nothing)."""
    check = validator(definition.schema)
    problems = [f"{url}: {error.json_path}: {error.message[:200]}" for error in check.iter_errors(document)]
    written = definition.round_trip(document, url) if definition.round_trip else None
    if written is not None:
        if written != document:
            problems.append(f"{url}: changed by its dataclass: {_first_difference(document, written)}")
        problems += [f"{url} as written: {error.json_path}: {error.message[:200]}"
                     for error in check.iter_errors(written)]
    return problems


def _first_difference(before: Any, after: Any, path: str = "$") -> str:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            if before.get(key, "<absent>") != after.get(key, "<absent>"):
                return _first_difference(before.get(key, "<absent>"), after.get(key, "<absent>"), f"{path}.{key}")
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for number, (old, new) in enumerate(zip(before, after, strict=True)):
            if old != new:
                return _first_difference(old, new, f"{path}[{number}]")
    return f"{path}: {str(before)[:100]} != {str(after)[:100]}"


def run_folder_documents(store: ObjectStore, layout: RunLayout) -> dict[str, Any]:
    """Every object of the run folder that parses as JSON, by URL."""
    documents = {}
    for info in store.list(layout.root):
        try:
            documents[info.url] = json.loads(store.read_bytes(info.url))
        except ValueError:
            continue  # SQL, the report's text files, staged data
    return documents
