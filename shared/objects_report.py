"""The record of what was done with each object while objects are applied (mutable: a refresh revises it): the apply
engine (shared/applyengine.py) keeps one per object for validate_restore, pre-data and post-data. load_schema's
object reports are written from them as shared/documents/objects.py defines them; table_transfer writes them too
when it finishes a table after post-data (the SAVEPOINT applier itself is shared/sqlapply.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared import stepnames
from shared.documents.objects import ObjectOutcome, ObjectsReport
from shared.sqlblocks import SqlObject

STEP = stepnames.LOAD_SCHEMA


@dataclass
class ObjectReport:
    kind: str
    name: str
    target_name: str | None
    status: str  # a status of shared/documents/objects.py's STATUSES
    reason: str | None = None
    depends_on: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # violations, next_value, ...

    @classmethod
    def of(cls, obj: SqlObject, status: str, reason: str | None = None, **details: Any) -> ObjectReport:
        return cls(obj.kind, obj.name, obj.target_name, status, reason, list(obj.depends_on), details)

    def outcome(self) -> ObjectOutcome:
        """The entry the report file holds (shared/documents/objects.py)."""
        return ObjectOutcome(self.kind, self.name, self.target_name, self.status, self.reason or None,
                             tuple(self.depends_on), None, dict(self.details))

    def to_json(self) -> dict[str, Any]:
        return self.outcome().to_json()


def object_report(run_id: str, section: str, objects: Sequence[ObjectReport], **extra: Any) -> ObjectsReport:
    return ObjectsReport.of(run_id, STEP, (o.outcome() for o in objects), section=section, **extra)


# What post-data makes (keys, indexes, views, routines): applied for the first time, the report says "created".
POST_DATA_CREATING_KINDS = ("constraint", "index", "view", "materialized_view", "function", "procedure")


def note_created(report: ObjectReport) -> ObjectReport:
    """A post-data object applied now, with no other change noted, was created by this run."""
    if report.status == "applied" and "change" not in report.details and report.kind in POST_DATA_CREATING_KINDS:
        report.details["change"] = "created"
    return report
