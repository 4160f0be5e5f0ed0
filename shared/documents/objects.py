"""The per-object reports: rewrite_report.json (rewrite_ddl), validation_report.json (validate_restore),
load_report.json (load_schema pre-data) and post_data_report.json (load_schema post-data; table_transfer's finishing
rewrites it). Each lists one ObjectOutcome per schema object, with a status from the one vocabulary below, and
counts them; the step's own fields (validate_restore's passes, post-data's timings, ...) travel in `extra`.

The report step and `r2a plan` read them to list what was not migrated; load_schema reads pre-data's and
validation's to explain a missing table, and post-data's own to report a resubmitted run like a clean one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared.documents._checks import entries, format_version, text
from shared.documents.base import RunDocument
from shared.errors import BadInputError

FORMAT_VERSION = 1
SCHEMA = "objects_report"

# Every status an object report holds, what it means, and the steps that write it.
STATUSES = {
    "converted": "rewrite_ddl: carried over as it was",
    "converted_with_changes": "rewrite_ddl: carried over, changed as its `changes` say",
    "unsupported": "rewrite_ddl: cannot be carried over (`reason`); not migrated",
    "applied": "validate_restore, load_schema: PostgreSQL (the scratch database or AlloyDB) accepted it",
    "failed": "validate_restore, load_schema: PostgreSQL refused it (`reason`); not migrated",
    "skipped": "every step: not carried or applied because something it depends on was not (`reason`); not migrated",
    "not_valid": "load_schema post-data: a key added NOT VALID because rows violate it (`violations`)",
    "unchanged": "load_schema: already in AlloyDB (a refresh, an earlier attempt, --on-existing skip) and kept",
    "dropped_in_source": "load_schema: r2a created it and the source no longer has it: kept, or dropped with "
                         "--dropped-in-source drop",
    "deferred": "load_schema post-data: waits for its tables' transfer (`waits_for`), which applies it; not migrated "
                "until then",
}
NOT_MIGRATED = ("unsupported", "failed", "skipped", "deferred")
# What a refresh did to an object (load_schema's `change` detail).
CHANGES = ("created", "refreshed", "unchanged", "changed", "dropped_in_source")

_FIELDS = ("kind", "name", "target_name", "status", "reason", "depends_on", "changes")
_REPORT_FIELDS = ("format_version", "run_id", "step", "section", "objects", "counts")


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise BadInputError(f"{where} must be a list of names")
    return tuple(value)


@dataclass(frozen=True)
class ObjectOutcome:
    """What one step did with one schema object."""

    kind: str  # table, view, constraint, index, function, grant, ...
    name: str  # the Redshift name (canonical)
    target_name: str | None
    status: str  # a key of STATUSES
    reason: str | None = None
    depends_on: tuple[str, ...] = ()
    changes: tuple[str, ...] | None = None  # rewrite_ddl's and validate_restore's list of changes; None: not listed
    details: dict[str, Any] = field(default_factory=dict)  # violations, change, kept, waits_for, attempts, timings...

    @classmethod
    def from_json(cls, value: Any, where: str) -> ObjectOutcome:
        if not isinstance(value, dict):
            raise BadInputError(f"{where} must be an object")
        kind, name = text(value.get("kind"), f"{where}.kind"), text(value.get("name"), f"{where}.name")
        status = value.get("status")
        if status not in STATUSES:
            raise BadInputError(f"{where}.status {str(status)[:40]!r} is not one of {', '.join(STATUSES)}")
        target_name, reason = value.get("target_name"), value.get("reason")
        if not isinstance(target_name, str | None) or not isinstance(reason, str | None):
            raise BadInputError(f"{where}: target_name and reason must be strings when present")
        changes = value.get("changes")
        return cls(kind, name, target_name, status, reason, _names(value.get("depends_on", []), f"{where}.depends_on"),
                   None if changes is None else _names(changes, f"{where}.changes"),
                   {key: item for key, item in value.items() if key not in _FIELDS})

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": self.kind, "name": self.name, "target_name": self.target_name,
                                 "status": self.status, "depends_on": list(self.depends_on)}
        if self.changes is not None:
            entry["changes"] = list(self.changes)
        if self.reason:
            entry["reason"] = self.reason
        entry.update(self.details)
        return entry

    @property
    def not_migrated(self) -> bool:
        return self.status in NOT_MIGRATED


def count(statuses: Iterable[str], always: Iterable[str] = ()) -> dict[str, int]:
    """{status: how many}: the `always` statuses first (0 when none), then the others present, sorted."""
    found = Counter(statuses)
    listed = {status: found.pop(status, 0) for status in always}
    return {**listed, **dict(sorted(found.items()))}


@dataclass(frozen=True)
class ObjectsReport(RunDocument):
    run_id: str
    step: str
    objects: tuple[ObjectOutcome, ...]
    counts: dict[str, int]
    section: str | None = None  # load_schema's pre-data or post-data
    extra: dict[str, Any] = field(default_factory=dict)  # the step's own fields
    format_version: int = FORMAT_VERSION

    @classmethod
    def of(cls, run_id: str, step: str, objects: Iterable[ObjectOutcome], *, section: str | None = None,
           always_counted: Iterable[str] = (), **extra: Any) -> ObjectsReport:
        outcomes = tuple(objects)
        return cls(run_id, step, outcomes, count((o.status for o in outcomes), always_counted), section, extra)

    @classmethod
    def from_json(cls, document: Any, url: str) -> ObjectsReport:
        version = format_version(document, url, FORMAT_VERSION)
        objects = entries(document, "objects", url, ObjectOutcome.from_json)
        counts = document.get("counts", {})
        if not isinstance(counts, dict) or not all(isinstance(n, int) for n in counts.values()):
            raise BadInputError(f"{url}: counts must be an object of numbers")
        section = document.get("section")
        if not isinstance(section, str | None):
            raise BadInputError(f"{url}: section must be a string")
        extra = {key: value for key, value in document.items() if key not in _REPORT_FIELDS}
        return cls(str(document.get("run_id", "")), str(document.get("step", "")), objects, dict(counts), section,
                   extra, version)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"format_version": self.format_version, "run_id": self.run_id, "step": self.step}
        if self.section is not None:
            document["section"] = self.section
        document |= {"objects": [o.to_json() for o in self.objects], "counts": dict(self.counts), **self.extra}
        return document
