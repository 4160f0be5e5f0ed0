"""report/summary.json: the report's figures of a run (steps/report/summary.py builds them): counts per table status,
totals, the steps, the slowest and the failed tables, objects not migrated, constraint violations, what a refresh
changed, incremental syncs, tables finished after post-data, the plan beside the measured run. The report's HTML is
rendered from the same dataclass; `r2a readiness` and `make demo` read the file.

The sections readers use field by field are dataclasses (Totals, NotMigrated, Changes); the lists of entries are
kept as objects, each checked to be one, with their fields in shared/schemas/summary.schema.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.documents._checks import flag, format_version, number, objects, optional_text, tally, text, whole
from shared.documents.base import RunDocument
from shared.errors import BadInputError
from shared.runstate import STATUSES as TABLE_STATUSES  # a key each in counts and planned_counts

FORMAT_VERSION = 1
SCHEMA = "summary"

Entries = tuple[dict[str, Any], ...]


def _status_counts(value: Any, where: str) -> dict[str, int]:
    counts = tally(value, where)
    if sorted(counts) != sorted(TABLE_STATUSES):
        raise BadInputError(f"{where} must count each of {', '.join(TABLE_STATUSES)}")
    return counts


def _section(document: dict[str, Any], key: str, url: str) -> dict[str, Any]:
    value = document.get(key)
    if not isinstance(value, dict):
        raise BadInputError(f"{url}: {key} must be an object")
    return value


@dataclass(frozen=True)
class Totals:
    rows_source: int = 0
    rows_loaded: int = 0
    bytes_compressed: int = 0
    bytes_raw: int = 0
    transfer_time_s: float = 0  # the tables' durations added up
    wall_time_s: float | None = None  # first start to last end of the run's results and steps; None: no timings
    phase_time_s: dict[str, float] = field(default_factory=dict)  # unload, copy, load, verify, ... added up

    @classmethod
    def from_json(cls, value: dict[str, Any], where: str) -> Totals:
        phases = value.get("phase_time_s")
        if not isinstance(phases, dict):
            raise BadInputError(f"{where}.phase_time_s must be an object of seconds")
        wall = value.get("wall_time_s")
        return cls(*(whole(value.get(name), f"{where}.{name}")
                     for name in ("rows_source", "rows_loaded", "bytes_compressed", "bytes_raw")),
                   number(value.get("transfer_time_s"), f"{where}.transfer_time_s"),
                   None if wall is None else number(wall, f"{where}.wall_time_s"),
                   {name: number(seconds, f"{where}.phase_time_s.{name}") for name, seconds in phases.items()})

    def to_json(self) -> dict[str, Any]:
        return {"rows_source": self.rows_source, "rows_loaded": self.rows_loaded,
                "bytes_compressed": self.bytes_compressed, "bytes_raw": self.bytes_raw,
                "transfer_time_s": self.transfer_time_s, "wall_time_s": self.wall_time_s,
                "phase_time_s": self.phase_time_s}


@dataclass(frozen=True)
class NotMigrated:
    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_reason: Entries = ()  # kind, stage, status, reason, count

    @classmethod
    def from_json(cls, value: dict[str, Any], where: str) -> NotMigrated:
        return cls(whole(value.get("total"), f"{where}.total"), tally(value.get("by_kind"), f"{where}.by_kind"),
                   objects(value.get("by_reason"), f"{where}.by_reason"))

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "by_kind": self.by_kind, "by_reason": list(self.by_reason)}


@dataclass(frozen=True)
class Changes:
    counts: dict[str, int] = field(default_factory=dict)  # per change (shared/documents/objects.CHANGES)
    objects: Entries = ()  # every object created, changed or dropped in the source

    @classmethod
    def from_json(cls, value: dict[str, Any], where: str) -> Changes:
        return cls(tally(value.get("counts"), f"{where}.counts"), objects(value.get("objects"), f"{where}.objects"))

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "objects": list(self.objects)}


_LISTS = ("steps", "slowest_tables", "failed_tables", "source_changed_tables", "synced_tables",
          "full_despite_sync_config", "constraint_violations", "finished_after_post_data", "input_problems")


@dataclass(frozen=True)
class Summary(RunDocument):
    run_id: str
    generated_at: str
    all_planned_succeeded: bool = False  # the report's exit rule: a plan exists and each planned table succeeded
    plan_found: bool = False  # tables.json was there
    planned_tables: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_STATUSES, 0))  # every table
    planned_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_STATUSES, 0))
    retried_tables: int = 0
    totals: Totals = field(default_factory=Totals)
    run_started_at: str | None = None
    run_finished_at: str | None = None
    steps: Entries = ()  # step, status, started_at, finished_at, duration_s, counts, error
    slowest_tables: Entries = ()  # table, status, duration_s, rows_loaded
    failed_tables: Entries = ()  # planned tables that did not succeed: table, target, status, attempts, error
    source_changed_tables: Entries = ()  # table, rows_source, rows_source_after
    synced_tables: Entries = ()  # table, status, mode, watermark_from/to, rows_inserted/updated/deleted
    full_despite_sync_config: Entries = ()  # table, reason
    objects_not_migrated: NotMigrated = field(default_factory=NotMigrated)
    constraint_violations: Entries = ()  # name, target_name, status, violations, reason
    changes: Changes = field(default_factory=Changes)
    finished_after_post_data: Entries = ()  # table, target, finished_at, objects, sequences_reseeded, ...
    schema_backups: dict[str, bool] = field(default_factory=dict)  # file name -> copied into report/
    input_problems: Entries = ()  # path, reason
    plan: dict[str, Any] | None = None  # steps/report/plan_section.plan_summary; None without a plan.json
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, document: Any, url: str) -> Summary:
        version = format_version(document, url, FORMAT_VERSION)
        if not isinstance(document, dict):
            raise BadInputError(f"{url}: expected an object")
        backups, plan = document.get("schema_backups"), document.get("plan")
        if not isinstance(backups, dict) or not all(isinstance(copied, bool) for copied in backups.values()):
            raise BadInputError(f"{url}: schema_backups must be an object of true or false")
        if plan is not None and not isinstance(plan, dict):
            raise BadInputError(f"{url}: plan must be an object or null")
        lists = {key: objects(document.get(key), f"{url}: {key}") for key in _LISTS}
        return cls(
            text(document.get("run_id"), f"{url}: run_id"), text(document.get("generated_at"), f"{url}: generated_at"),
            flag(document.get("all_planned_succeeded"), f"{url}: all_planned_succeeded"),
            flag(document.get("plan_found"), f"{url}: plan_found"),
            whole(document.get("planned_tables"), f"{url}: planned_tables"),
            _status_counts(document.get("counts"), f"{url}: counts"),
            _status_counts(document.get("planned_counts"), f"{url}: planned_counts"),
            whole(document.get("retried_tables"), f"{url}: retried_tables"),
            Totals.from_json(_section(document, "totals", url), f"{url}: totals"),
            optional_text(document.get("run_started_at"), f"{url}: run_started_at"),
            optional_text(document.get("run_finished_at"), f"{url}: run_finished_at"),
            objects_not_migrated=NotMigrated.from_json(_section(document, "objects_not_migrated", url),
                                                       f"{url}: objects_not_migrated"),
            changes=Changes.from_json(_section(document, "changes", url), f"{url}: changes"),
            schema_backups=backups, plan=plan, format_version=version, **lists)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "run_id": self.run_id, "generated_at": self.generated_at,
                "all_planned_succeeded": self.all_planned_succeeded, "plan_found": self.plan_found,
                "planned_tables": self.planned_tables, "counts": self.counts, "planned_counts": self.planned_counts,
                "retried_tables": self.retried_tables, "totals": self.totals.to_json(),
                "run_started_at": self.run_started_at, "run_finished_at": self.run_finished_at,
                **{key: list(getattr(self, key)) for key in _LISTS},
                "objects_not_migrated": self.objects_not_migrated.to_json(), "changes": self.changes.to_json(),
                "schema_backups": self.schema_backups, "plan": self.plan}
