"""The entries of load_schema's object reports; table_transfer writes them too when it finishes a table after post-data
(the SAVEPOINT applier itself is shared/sqlapply.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared import stepnames
from shared.sqlblocks import SqlObject

STEP = stepnames.LOAD_SCHEMA
FORMAT_VERSION = 1


@dataclass
class ObjectReport:
    kind: str
    name: str
    target_name: str | None
    status: str  # applied | failed | skipped | not_valid
    reason: str | None = None
    depends_on: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # violations, next_value, ...

    @classmethod
    def of(cls, obj: SqlObject, status: str, reason: str | None = None, **details: Any) -> ObjectReport:
        return cls(obj.kind, obj.name, obj.target_name, status, reason, list(obj.depends_on), details)

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": self.kind, "name": self.name, "target_name": self.target_name,
                                 "status": self.status, "depends_on": self.depends_on}
        if self.reason:
            entry["reason"] = self.reason
        entry.update(self.details)
        return entry


def object_report(run_id: str, section: str, objects: Sequence[ObjectReport], **extra: Any) -> dict[str, Any]:
    counts = Counter(o.status for o in objects)
    return {"format_version": FORMAT_VERSION, "run_id": run_id, "step": STEP, "section": section,
            "objects": [o.to_json() for o in objects], "counts": dict(sorted(counts.items())), **extra}


# What post-data makes (keys, indexes, views, routines): applied for the first time, the report says "created".
POST_DATA_CREATING_KINDS = ("constraint", "index", "view", "materialized_view", "function", "procedure")


def note_created(report: ObjectReport) -> ObjectReport:
    """A post-data object applied now, with no other change noted, was created by this run."""
    if report.status == "applied" and "change" not in report.details and report.kind in POST_DATA_CREATING_KINDS:
        report.details["change"] = "created"
    return report
