"""Each table's state in a run, by one rule: what the report's `.tables` file, `r2a status`, retry-failed's list
(`report --list-unfinished`) and `r2a readiness` say about a table all come from `table_states`, so they cannot
disagree.

The tables, in this order (steps/report/README.md, "The `.tables` format"):
1. the plan (tables.json), plan order: its valid result's status; `failed` when its result file is not valid JSON,
   not the schema's or another run's; `not_run` without a result file;
2. tables with a valid result outside the plan (e.g. load_schema could not create them), by name;
3. tables a schema step did not carry over (NOT_MIGRATED in rewrite_report, validation_report, load_report or
   post_data_report; the earliest stage explains it), by name: `skipped`;
4. tables an earlier r2a run created that the source no longer has (change `dropped_in_source`), by name: `skipped`.
`change` is what load_schema pre-data did to the table's definition (load_report.json), for the first three.

`table_states` is pure; `read_run_state` reads the documents it needs from the run folder (in parallel) for callers
that have not read them already.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.documents.objects import NOT_MIGRATED
from shared.errors import BadInputError
from shared.log import one_line
from shared.objectstore import ObjectStore, RunLayout
from shared.results import TableResult
from shared.rundocs import (
    PLAN_FILE,
    RESULTS_DIR,
    InputProblem,
    ObjectEntry,
    PlanEntry,
    canonical,
    object_report_urls,
    parse_objects,
    parse_plan,
    parse_results,
    read_documents,
    result_path,
)

STATUSES = ("succeeded", "failed", "skipped", "not_run")
NO_RESULT = "no result file: the transfer did not run or did not finish"
DROPPED_IN_SOURCE = "dropped_in_source"


@dataclass(frozen=True)
class TableState:
    table: str  # Redshift name, canonical
    target: str  # AlloyDB name, canonical; empty when no document names it
    status: str  # one of STATUSES
    planned: bool  # in tables.json: only planned tables decide whether the run succeeded
    result: TableResult | None = None  # its valid result, when it has one
    reason: str = ""  # why a table without a valid result has its status (invalid file, no file, skipped where)
    change: str = ""  # created | refreshed | changed | dropped_in_source, or empty


@dataclass(frozen=True)
class RunState:
    run_id: str
    plan_found: bool  # tables.json exists and could be read
    tables: list[TableState] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)  # input files that could not be used

    @property
    def all_planned_succeeded(self) -> bool:
        """The run's exit rule (the report's): a plan exists and every table in it succeeded."""
        return self.plan_found and all(t.status == "succeeded" for t in self.tables if t.planned)


def table_states(plan: list[PlanEntry] | None, results: dict[str, TableResult], invalid_results: dict[str, str],
                 objects: list[ObjectEntry]) -> list[TableState]:
    """Every table of the run with its state, in the order of the module docstring. `results` is keyed by canonical
    Redshift name, `invalid_results` by the refused file's run-relative path (results/<stem>.json)."""
    states: list[TableState] = []
    placed: set[str] = set()
    changes = pre_data_changes(objects)
    for entry in plan or []:
        placed.add(entry.table)
        change = changes.get(entry.table, "")
        result = results.get(entry.table)
        if result is not None:
            states.append(TableState(entry.table, entry.target, result.status, True, result, change=change))
        elif result_path(entry.table) in invalid_results:
            states.append(TableState(entry.table, entry.target, "failed", True,
                                     reason=one_line(invalid_results[result_path(entry.table)]), change=change))
        else:
            states.append(TableState(entry.table, entry.target, "not_run", True, reason=NO_RESULT, change=change))
    for name in sorted(set(results) - placed):
        result = results[name]
        states.append(TableState(name, canonical(result.target), result.status, False, result,
                                 change=changes.get(name, "")))
        placed.add(name)
    dropped: dict[str, TableState] = {}
    for entry in objects:
        name = canonical(entry.name)
        if entry.kind != "table" or entry.status not in NOT_MIGRATED or name in placed or name in dropped:
            continue
        reason = one_line(f"{entry.status} in {entry.stage}: {entry.reason or 'no reason given'}")
        dropped[name] = TableState(name, canonical(entry.target_name) if entry.target_name else "", "skipped", False,
                                   reason=reason, change=changes.get(name, ""))
    states.extend(dropped[name] for name in sorted(dropped))
    placed.update(dropped)
    gone = {canonical(e.name): e for e in objects if e.kind == "table" and e.change == DROPPED_IN_SOURCE}
    states.extend(TableState(name, canonical(gone[name].target_name or ""), "skipped", False,
                             reason=one_line(gone[name].reason), change=DROPPED_IN_SOURCE)
                  for name in sorted(set(gone) - placed))
    return states


def pre_data_changes(objects: list[ObjectEntry]) -> dict[str, str]:
    """Redshift table name -> what pre-data did to its definition (load_report.json's `change`)."""
    return {canonical(e.name): e.change for e in objects
            if e.kind == "table" and e.stage == "load_schema_pre_data" and e.change}


def read_run_state(store: ObjectStore, layout: RunLayout) -> RunState:
    """The run's table states from its folder: tables.json, every results/*.json and the object reports, fetched
    in parallel. A run with neither tables.json nor a result file is not found; a tables.json that cannot be read
    is refused in one line (without it no table's status can be told)."""
    urls = [layout.tables_json, *object_report_urls(layout)]
    documents, unreadable = read_documents(store, layout, urls, [layout.results_prefix])
    if PLAN_FILE not in documents and PLAN_FILE not in unreadable \
            and not any(path.startswith(RESULTS_DIR) for path in [*documents, *unreadable]):
        raise BadInputError(f"run {layout.run_id} not found: no tables.json and no results under {layout.root}",
                            "Check --run-id, R2A_GCS_BUCKET and R2A_GCS_PREFIX")
    problems = [InputProblem(path, why) for path, why in sorted(unreadable.items())]
    plan = parse_plan(documents, problems)
    if plan is None and (PLAN_FILE in documents or PLAN_FILE in unreadable):
        why = next(p.reason for p in problems if p.path == PLAN_FILE)
        raise BadInputError(f"{layout.tables_json}: {why}")
    results, invalid = parse_results(documents, unreadable, layout.run_id, problems)
    objects = parse_objects(documents, problems)
    return RunState(layout.run_id, plan is not None, table_states(plan, results, invalid, objects), problems)
