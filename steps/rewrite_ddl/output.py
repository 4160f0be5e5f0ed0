"""What one rewrite produces: the SQL blocks per file, a report entry per object, the name map tables."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared import stepnames
from shared.documents.name_map import MappedTable, NameMap
from shared.documents.objects import ObjectOutcome, ObjectsReport
from shared.sqlblocks import SqlObject

STATUSES = ("converted", "converted_with_changes", "unsupported", "skipped")  # of shared/documents/objects.py


@dataclass
class ObjectEntry:
    kind: str
    name: str
    target_name: str | None
    status: str
    reason: str | None = None
    changes: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)

    def outcome(self) -> ObjectOutcome:
        return ObjectOutcome(self.kind, self.name, self.target_name, self.status, self.reason or None,
                             tuple(self.depends_on), tuple(self.changes))


def status_for(changes: list[str]) -> str:
    return "converted_with_changes" if changes else "converted"


@dataclass
class RewriteOutput:
    pre_data: list[SqlObject] = field(default_factory=list)
    # post-data in apply order: keys before the foreign keys that need them, then indexes, then roles/grants
    post_keys: list[SqlObject] = field(default_factory=list)
    post_foreign: list[SqlObject] = field(default_factory=list)
    post_indexes: list[SqlObject] = field(default_factory=list)
    post_data: list[SqlObject] = field(default_factory=list)
    views: list[SqlObject] = field(default_factory=list)
    compat: list[SqlObject] = field(default_factory=list)
    entries: list[ObjectEntry] = field(default_factory=list)
    name_map_tables: list[MappedTable] = field(default_factory=list)
    schema_map: dict[str, str] = field(default_factory=dict)
    compat_used: set[str] = field(default_factory=set)

    def add(self, section: list[SqlObject], entry: ObjectEntry, sql: str,
            structure: dict[str, object] | None = None) -> None:
        """An object written to `section` (pre_data, post_data or views) and its report entry. `structure` goes
        into the block's marker (shared/constraints.py reads it), so later steps never re-parse the SQL."""
        extra: list[tuple[str, object]] = sorted((structure or {}).items())
        if entry.changes:
            extra.append(("changes", list(entry.changes)))
        if entry.status == "unsupported":
            extra += [("reason", entry.reason or "unsupported"), ("status", "unsupported")]
        section.append(SqlObject(entry.kind, entry.name, sql, entry.target_name, tuple(entry.depends_on),
                                 tuple(extra)))
        self.entries.append(entry)

    def post_data_in_order(self) -> list[SqlObject]:
        return self.post_keys + self.post_foreign + self.post_indexes + self.post_data

    def report(self, run_id: str) -> ObjectsReport:
        return ObjectsReport.of(run_id, stepnames.REWRITE_DDL, (e.outcome() for e in self.entries), always_counted=STATUSES)

    def name_map(self, run_id: str) -> NameMap:
        return NameMap(run_id, tuple(self.name_map_tables), dict(self.schema_map))
