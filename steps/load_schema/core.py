"""load_schema's two sections, from the run folder to AlloyDB and back to the run folder.

pre-data reads validated_pre_data.sql (validate_restore) and name_map.json (rewrite_ddl), applies the objects,
then writes load_report.json, tables.json (tables present in AlloyDB, largest first), batches/<id>.json and
fanout.json. A table of name_map.json that is not in AlloyDB afterwards gets a skipped result file
(results/<table>.json) saying why, so the report lists it although no transfer runs for it.
post-data reads validated_post_data.sql, tables.json and the table results and writes post_data_report.json.
Every input is read and checked before the first connection to AlloyDB: bad input changes nothing there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.config import Settings
from shared.connections import alloydb_connection
from shared.ddlsession import R2A_SCHEMAS, pin_ddl_session, require_own_schema
from shared.documents.batch import Batch
from shared.documents.fanout import Fanout
from shared.documents.objects import ObjectOutcome, ObjectsReport
from shared.documents.progress import PreDataProgress
from shared.documents.tables import PlannedTable, TablePlan
from shared.errors import BadInputError, BadStateError
from shared.finishing import take_finishing_lock
from shared.identifiers import TableRef, parse_table_ref
from shared.layout import validated_sql_name
from shared.loader_items import BIG_TABLE_MB, LOADERS_PER_BIG_TABLE
from shared.log import event
from shared.objects_report import STEP, ObjectReport, object_report
from shared.objectstore import ObjectStore, RunLayout
from shared.postdata_jobs import Timing
from shared.results import ErrorInfo, PhaseClock, PhaseTiming, TableResult, to_dict, utc_now
from shared.runlock import hold_exclusive
from shared.sqlapply import SavepointApplier, has_statement
from shared.sqlblocks import SqlObject, parse
from shared.sqlcheck import refusal
from steps.load_schema import fanout, ledger, tables
from steps.load_schema.dropped import track_objects
from steps.load_schema.postdata import apply_post_data
from steps.load_schema.predata import apply_pre_data, existing_relations
from steps.load_schema.refresh import CHANGED_TABLE_PREFIX, settle_post_data

CREATING_KINDS = {"schema", "table", "sequence", "function", "procedure", "type"}
CLEAN_STATUSES = {"applied", "unchanged", "dropped_in_source"}  # dropped_in_source: reported, nothing went wrong
OBJECT_WRITERS = 8  # the GCS client keeps 10 pooled connections


@dataclass
class SectionSummary:
    counts: dict[str, int]
    outputs: list[str]
    phases: list[PhaseTiming] = field(default_factory=list)
    fanout_items: list[str] = field(default_factory=list)
    fanout_json: str = "[]"

    @property
    def clean(self) -> bool:
        return set(self.counts) <= CLEAN_STATUSES


def _required(store: ObjectStore, url: str, produced_by: str) -> None:
    if not store.exists(url):
        raise BadStateError(f"{url} does not exist", f"Run {produced_by} for this run first")


def read_validated(store: ObjectStore, layout: RunLayout, section: str) -> list[SqlObject]:
    """The blocks validate_restore accepted; one that is not exactly one statement of its kind (the file was
    changed after validation) stops the step before AlloyDB is touched."""
    url, name = layout.validated_sql(section), validated_sql_name(section)
    _required(store, url, "validate_restore")
    objects = parse(store.read_text(url), name)
    for obj in objects:
        reason = refusal(obj) if has_statement(obj) else None
        if reason:
            raise BadInputError(f"{name}: {obj.kind} block {obj.name!r}: {reason}",
                                "Run validate_restore again for this run")
    return objects


def ddl_session(conn) -> None:
    """Names resolve in pg_catalog first, and r2a's own schemas, when they exist, are the connecting user's."""
    pin_ddl_session(conn)
    for schema in R2A_SCHEMAS:
        require_own_schema(conn, schema)


def _missing_table_result(run_id: str, table: PlannedTable, reason: str, status: str = "skipped") -> dict[str, Any]:
    """A table result without a transfer: none runs for a table AlloyDB does not have (skipped) or whose columns
    changed in a way a refresh does not follow (failed), and the report must say so."""
    now = utc_now()
    error = ErrorInfo("TargetError", reason, 5, False)
    return to_dict(TableResult(run_id, table.table, str(table.target), status, now, now, 0.0, error=error))


def load_pre_data(run_id: str, settings: Settings, store: ObjectStore, layout: RunLayout,
                  on_existing: str, drop_dropped: bool = False, own_pod_min_mb: float = fanout.OWN_POD_MIN_MB,
                  concurrency: int = fanout.CONCURRENCY, big_table_mb: float = BIG_TABLE_MB,
                  loaders_per_big_table: int = LOADERS_PER_BIG_TABLE) -> SectionSummary:
    phases: list[PhaseTiming] = []
    clock = PhaseClock(phases)
    with clock.phase("read"):
        objects = read_validated(store, layout, "pre-data")
        _required(store, layout.name_map_json, "rewrite_ddl")
        mapped = tables.name_map_tables(store.read_json(layout.name_map_json), layout.name_map_json)
        reasons = _reasons(store, layout)
        progress = _Progress(store, layout.pre_data_progress_json, run_id)
    with clock.phase("apply"):
        conn = alloydb_connection(settings, STEP)
        try:
            hold_exclusive(conn, run_id, "load_schema --section pre-data")
            ddl_session(conn)
            require_own_schema(conn, ledger.LEDGER_SCHEMA)
            ledger.ensure_ledger(conn)
            reports = apply_pre_data(conn, objects, on_existing, progress.tables, progress.add, run_id=run_id,
                                     managed=ledger.managed_tables(conn), drop_dropped=drop_dropped)
            _log_problems(reports)
            present = existing_relations(conn, [t.target for t in mapped]) - _not_loadable(reports)
        finally:
            conn.close()
    with clock.phase("write"):
        for report in reports:
            if report.kind == "table" and report.target_name:
                reasons[report.target_name] = report.reason or report.status
        table_plan = TablePlan.largest_first(run_id, [t for t in mapped if t.target in present])
        entries = [t.to_json() for t in table_plan.tables]
        plan = fanout.with_loaders(fanout.plan_fanout(entries, own_pod_min_mb, concurrency), entries, big_table_mb,
                                   loaders_per_big_table)
        document = object_report(run_id, "pre-data", reports, on_existing=on_existing,
                                 dropped_in_source="drop" if drop_dropped else "keep")
        store.write_json(layout.load_report_json, document.to_json())
        store.write_json(layout.tables_json, table_plan.to_json())
        write_batches(store, layout, run_id, plan.batches)
        store.write_json(layout.fanout_json, Fanout(run_id, tuple(plan.items)).to_json())
        for table in mapped:
            if table.target not in present:
                why = reasons.get(str(table.target)) or "not created: absent from the validated pre-data"
                if why.startswith(CHANGED_TABLE_PREFIX):
                    result = _missing_table_result(run_id, table, f"not transferred: {why}", "failed")
                else:
                    result = _missing_table_result(
                        run_id, table, f"not transferred: load_schema could not create the table in AlloyDB: {why}")
                store.write_json(layout.result(table.source), result)
    outputs = [layout.load_report_json, layout.tables_json, layout.fanout_json]
    return SectionSummary(document.counts, outputs, phases, plan.items, plan.to_json())


def _not_loadable(reports: Sequence[ObjectReport]) -> set[TableRef]:
    """Existing tables whose columns no longer match the source's: loading them would shift values."""
    return {parse_table_ref(r.target_name or r.name) for r in reports if r.kind == "table" and r.status == "failed"
            and r.details.get("change") == "changed"}


class _Progress:
    """The tables this run's pre-data has created so far, saved at every commit.

    A retried attempt (Argo retries exit 1, e.g. a connection lost half-way) must not stop at its own tables
    as if a stranger had made them: it reads this file and keeps them.
    """

    def __init__(self, store: ObjectStore, url: str, run_id: str):
        self.store, self.url, self.run_id = store, url, run_id
        self.tables: set[TableRef] = set()
        if store.exists(url):
            saved = PreDataProgress.read(store, url)
            if saved.run_id == run_id:
                self.tables = {parse_table_ref(t) for t in saved.created_tables}

    def add(self, created: list[TableRef]) -> None:
        self.tables.update(created)
        progress = PreDataProgress(self.run_id, tuple(sorted(str(t) for t in self.tables)))
        self.store.write_json(self.url, progress.to_json())


def write_batches(store: ObjectStore, layout: RunLayout, run_id: str, batches: dict[str, list[str]]) -> None:
    """One file per batch, written in parallel (hundreds of small objects); stale ones of an earlier attempt go."""
    wanted = {layout.batch(batch): Batch(run_id, batch, tuple(members)).to_json() for batch, members in batches.items()}
    stale = [info.url for info in store.list(layout.batches_prefix) if info.url not in wanted]
    with ThreadPoolExecutor(max_workers=OBJECT_WRITERS) as pool:
        jobs = [pool.submit(store.write_json, url, body) for url, body in wanted.items()]
        jobs += [pool.submit(store.delete_prefix, url) for url in stale]
        for job in jobs:
            job.result()  # the first failure is raised, as one line, by the step boundary


def _log_problems(reports: Sequence[ObjectReport]) -> None:
    for report in reports:
        if report.status in ("failed", "not_valid"):
            event(f"object.{report.status}", level=logging.WARNING, kind=report.kind, object=report.name,
                  reason=report.reason, **report.details)


def _report_of(store: ObjectStore, url: str) -> ObjectsReport | None:
    return ObjectsReport.read(store, url) if store.exists(url) else None


def _missing_after_pre_data(store: ObjectStore, layout: RunLayout) -> dict[str, str]:
    """Pre-data objects load_schema could not create (name -> reason), from load_report.json when it exists."""
    report = _report_of(store, layout.load_report_json)
    missing: dict[str, str] = {}
    for entry in report.objects if report else ():
        if entry.kind not in CREATING_KINDS or entry.status == "applied" or entry.details.get("kept"):
            continue  # a failed comment or grant does not make its table missing
        for name in {entry.name, entry.target_name} - {None}:
            missing.setdefault(name, f"{entry.status} in pre-data: {entry.reason}")
    return missing


def _pre_data_mode(store: ObjectStore, layout: RunLayout) -> tuple[str | None, bool]:
    """The --on-existing and --dropped-in-source pre-data ran with: post-data of a refresh reports what was already
    there "unchanged", and keeps or drops the views and routines the source no longer has as pre-data did tables."""
    report = _report_of(store, layout.load_report_json)
    if report is None:
        return None, False
    return report.extra.get("on_existing"), report.extra.get("dropped_in_source") == "drop"


def _reasons(store: ObjectStore, layout: RunLayout) -> dict[str, str]:
    """Why validate_restore refused a table, by AlloyDB name (when its report is there)."""
    report = _report_of(store, layout.validation_report_json)
    return {o.target_name: f"{o.status} in validation: {o.reason}" for o in (report.objects if report else ())
            if o.kind == "table" and o.target_name and o.status != "applied"}


def _session(settings: Settings):
    conn = alloydb_connection(settings, STEP)
    try:
        ddl_session(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def load_post_data(run_id: str, settings: Settings, store: ObjectStore, layout: RunLayout,
                   index_jobs: int = 1) -> SectionSummary:
    phases: list[PhaseTiming] = []
    clock = PhaseClock(phases)
    with clock.phase("read"):
        objects = read_validated(store, layout, "post-data")
        _required(store, layout.tables_json, "load_schema --section pre-data")
        planned = tables.planned_tables(store.read_json(layout.tables_json), layout.tables_json)
        missing = _missing_after_pre_data(store, layout)
        mode, drop_dropped = _pre_data_mode(store, layout)
        refreshing = mode == "refresh"
        earlier = _earlier_outcomes(store, layout, run_id)
    conn = alloydb_connection(settings, STEP)
    try:
        with clock.phase("apply"):
            hold_exclusive(conn, run_id, "load_schema --section post-data")
            ddl_session(conn)
            take_finishing_lock(conn, run_id)  # until the report is written: see shared/finishing.py
            unloaded = _unloaded(store, layout, planned)
            result = apply_post_data(conn, objects, [target for _, target in planned], missing, unloaded,
                                     index_jobs, lambda: _session(settings))
            result.objects = [_as_before(report, earlier) for report in result.objects]
            applier = SavepointApplier(conn, commit_every=1, system="AlloyDB")
            if refreshing:
                result.objects = settle_post_data(applier, objects, result.objects)
            ledger.ensure_ledger(conn)
            result.objects += track_objects(applier, objects, result.objects, run_id, refreshing, drop_dropped)
            _log_problems(result.objects)
        with clock.phase("write"):
            report = object_report(run_id, "post-data", result.objects, analyzed=result.analyzed,
                                   analyze_failures=result.analyze_failures,
                                   staging_tables_dropped=result.staging_dropped,
                                   staging_cleanup_error=result.staging_cleanup_error,
                                   deferred_tables=result.deferred_tables, finished_after_post_data=[],
                                   index_jobs=index_jobs, timings=[t.to_json() for t in result.timings])
            store.write_json(layout.post_data_report_json, report.to_json())
    finally:
        conn.close()
    phases += timing_phases(result.timings)
    return SectionSummary(report.counts, [layout.post_data_report_json], phases)


TIMING_GROUPS = {"constraint": "keys and indexes", "index": "keys and indexes", "analyze": "analyze"}


def timing_phases(timings: Sequence[Timing]) -> list[PhaseTiming]:
    """The spans of post-data's parts, from its objects' times, for the report's timeline (each object's own
    times are in post_data_report.json's `timings`)."""
    spans: dict[str, list[Timing]] = {}
    for timing in timings:
        spans.setdefault(TIMING_GROUPS.get(timing.kind, "views and other objects"), []).append(timing)
    phases = []
    for name, group in spans.items():
        start, end = min(t.started_at for t in group), max(t.finished_at for t in group)
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        phases.append(PhaseTiming(name, start, end, round(seconds, 3)))
    return sorted(phases, key=lambda p: p.started_at)


def _earlier_outcomes(store: ObjectStore, layout: RunLayout, run_id: str) -> dict[tuple[str, str], ObjectOutcome]:
    """The entries of this run's earlier post-data report (a resubmit runs post-data again on the same run)."""
    report = _report_of(store, layout.post_data_report_json)
    if report is None or report.run_id != run_id:
        return {}
    return {(o.kind, o.name): o for o in report.objects}


def _as_before(report: ObjectReport, earlier: dict[tuple[str, str], ObjectOutcome]) -> ObjectReport:
    """An object this run created earlier is found in place again: it is reported as it was when this run created
    it, so a resubmitted run's report reads like a clean run's and does not list its own objects as skipped."""
    entry = earlier.get((report.kind, report.name))
    if entry is None or entry.status != "applied" or not (report.reason or "").startswith("already"):
        return report
    return ObjectReport(report.kind, report.name, report.target_name, "applied", entry.reason, report.depends_on,
                        dict(entry.details))


def _unloaded(store: ObjectStore, layout: RunLayout, planned: list[tuple[str, TableRef]]) -> dict[str, TableRef]:
    """The planned tables whose latest result is not `succeeded` (none yet, failed, unreadable)."""
    urls = {layout.result(parse_table_ref(source)): (source, target) for source, target in planned}
    loaded = set()
    for url, data in store.read_many(list(urls)):
        try:
            document = json.loads(data) if data is not None else None
        except ValueError:
            continue  # an unreadable result is not a success
        if isinstance(document, dict) and document.get("status") == "succeeded":
            loaded.add(url)
    return {source: target for url, (source, target) in urls.items() if url not in loaded}
