"""summary.json (shared/documents/summary.py) from the run's inputs: counts per status, totals, slowest tables,
objects not migrated, constraint violations, the plan beside the measured run."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from shared.documents.summary import Changes, NotMigrated, Summary, Totals
from steps.report.collect import ObjectEntry, RunInputs, not_migrated
from steps.report.plan_section import plan_summary
from steps.report.tables import TableRow, status_counts
from steps.report.timefmt import format_ts, parse_ts

SLOWEST = 10


def planned_all_succeeded(inputs: RunInputs, rows: list[TableRow]) -> bool:
    """The exit-code rule: a plan exists and every table in it succeeded."""
    return inputs.plan is not None and all(row.status == "succeeded" for row in rows if row.planned)


def summarize(inputs: RunInputs, rows: list[TableRow], report_time: datetime,
              sql_copies: dict[str, bool] | None = None, plan_document: Any = None) -> Summary:
    """The run's summary; `plan_document` is the dry run's plan.json when the run folder has one."""
    planned = [row for row in rows if row.planned]
    results = list(inputs.results.values())
    starts = [parse_ts(r.started_at) for r in results] + [parse_ts(s.started_at) for s in inputs.steps]
    ends = [parse_ts(r.finished_at) for r in results] + [parse_ts(s.finished_at) for s in inputs.steps]
    starts, ends = [t for t in starts if t], [t for t in ends if t]
    phase_time: dict[str, float] = defaultdict(float)
    for result in results:
        for phase in result.phases:
            phase_time[phase.name] += phase.duration_s or 0.0
    dropped = not_migrated(inputs.objects)
    by_reason = Counter((o.kind, o.stage, o.status, o.reason) for o in dropped)
    wall_time_s = round((max(ends) - min(starts)).total_seconds(), 3) if starts and ends else None
    plan = plan_summary(plan_document, wall_time_s)
    timed = sorted((row for row in rows if row.duration_s is not None), key=lambda r: (-r.duration_s, r.table))
    return Summary(
        inputs.run_id, format_ts(report_time), planned_all_succeeded(inputs, rows), inputs.plan is not None,
        len(planned), status_counts(rows), status_counts(rows, planned_only=True),
        sum(1 for row in rows if (row.attempts or 0) > 1),
        Totals(sum(r.rows_source or 0 for r in results), sum(r.rows_loaded or 0 for r in results),
               sum(r.bytes_compressed or 0 for r in results), sum(r.bytes_raw or 0 for r in results),
               round(sum(r.duration_s or 0.0 for r in results), 3),
               wall_time_s,
               {name: round(seconds, 3) for name, seconds in sorted(phase_time.items())}),
        format_ts(min(starts)) if starts else None, format_ts(max(ends)) if ends else None,
        steps=tuple({"step": s.step, "status": s.status, "started_at": s.started_at, "finished_at": s.finished_at,
                     "duration_s": s.duration_s, "counts": s.counts,
                     "error": f"{s.error.error_class}: {s.error.message}" if s.error else None}
                    for s in inputs.steps),
        slowest_tables=tuple({"table": r.table, "status": r.status, "duration_s": r.duration_s,
                              "rows_loaded": r.rows_loaded} for r in timed[:SLOWEST]),
        failed_tables=tuple({"table": r.table, "target": r.target, "status": r.status, "attempts": r.attempts,
                             "error": r.error} for r in planned if r.status != "succeeded"),
        source_changed_tables=tuple(
            {"table": r.table, "rows_source": r.rows_source, "rows_source_after": r.rows_source_after}
            for r in sorted(results, key=lambda r: r.table)
            if r.status == "succeeded" and r.rows_source_after is not None and r.rows_source is not None
            and r.rows_source_after != r.rows_source),
        synced_tables=tuple(
            {"table": r.table, "status": r.status, "mode": r.sync_mode, "watermark_from": r.watermark_from,
             "watermark_to": r.watermark_to, "rows_inserted": r.rows_inserted, "rows_updated": r.rows_updated,
             "rows_deleted": r.rows_deleted}
            for r in sorted(results, key=lambda r: r.table) if r.sync_mode),
        full_despite_sync_config=tuple({"table": r.table, "reason": r.sync_note}
                                       for r in sorted(results, key=lambda r: r.table) if r.sync_note),
        objects_not_migrated=NotMigrated(
            len(dropped), dict(sorted(Counter(o.kind for o in dropped).items())),
            tuple({"kind": kind, "stage": stage, "status": status, "reason": reason, "count": count}
                  for (kind, stage, status, reason), count in sorted(by_reason.items()))),
        constraint_violations=tuple(
            {"name": o.name, "target_name": o.target_name, "status": o.status, "violations": o.violations,
             "reason": o.reason}
            for o in inputs.objects
            if o.kind == "constraint" and o.stage == "load_schema_post_data"
            and ((o.violations or 0) > 0 or o.status == "not_valid")),
        changes=_changes(inputs.objects),
        finished_after_post_data=tuple(_finished(record) for record in inputs.finished_after_post_data),
        schema_backups=dict(sorted((sql_copies or {}).items())),
        input_problems=tuple({"path": p.path, "reason": p.reason} for p in inputs.problems),
        plan=plan)



def _changes(objects: list[ObjectEntry]) -> Changes:
    """What this run did to what was already there (refresh runs): every object created, changed or dropped in the
    source by name, and how many were refreshed or unchanged (per table, .tables says it too; per object, every
    entry of the object reports carries its own `change`)."""
    named = [o for o in objects if o.change in ("created", "changed", "dropped_in_source")]
    return Changes(dict(sorted(Counter(o.change for o in objects if o.change).items())),
                   tuple({"kind": o.kind, "name": o.name, "target_name": o.target_name, "change": o.change,
                          "status": o.status, "reason": o.reason}
                         for o in sorted(named, key=lambda o: (o.change, o.kind, o.name))))


def _finished(record: dict[str, Any]) -> dict[str, Any]:
    """A table loaded after post-data ran and finished by its transfer: what it applied, reseeded, refreshed."""
    objects = record.get("objects") if isinstance(record.get("objects"), list) else []
    views = record.get("materialized_views_refreshed")
    return {"table": record["table"], "target": record.get("target"), "finished_at": record.get("finished_at"),
            "objects": [{"kind": o.get("kind"), "name": o.get("name"), "status": o.get("status")}
                        for o in objects if isinstance(o, dict)],
            "sequences_reseeded": len(record.get("sequences") or []),
            "analyzed": bool(record.get("analyzed")),
            "materialized_views_refreshed": [v for v in views if isinstance(v, dict)]
            if isinstance(views, list) else []}
