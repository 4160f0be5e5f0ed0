"""plan.json: the dry run's sizes and estimate before a byte moves (steps/plan writes it; `r2a plan` prints it with
shared/plan_text.py and the report sets the measured run beside it). Its tables are listed largest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.documents._checks import entries, format_version, number, text
from shared.documents.base import RunDocument
from shared.errors import BadInputError

FORMAT_VERSION = 1
SCHEMA = "run_plan"


@dataclass(frozen=True)
class SizedTable:
    table: str  # Redshift name, schema.table
    target: str  # AlloyDB name
    rows: int
    size_mb: float
    text_bytes: int  # as UNLOAD text rows
    s3_bytes: int  # after the run's compression
    sampled: bool
    sample_error: str | None = None

    @classmethod
    def from_json(cls, value: Any, where: str) -> SizedTable:
        if not isinstance(value, dict):
            raise BadInputError(f"{where} must be an object")
        error = value.get("sample_error")
        if not isinstance(error, str | None) or not isinstance(value.get("sampled"), bool):
            raise BadInputError(f"{where}: sampled must be true or false and sample_error a string when present")
        return cls(text(value.get("table"), f"{where}.table"), text(value.get("target"), f"{where}.target"),
                   int(number(value.get("rows"), f"{where}.rows")), number(value.get("size_mb"), f"{where}.size_mb"),
                   int(number(value.get("text_bytes"), f"{where}.text_bytes")),
                   int(number(value.get("s3_bytes"), f"{where}.s3_bytes")), value["sampled"], error)

    def to_json(self) -> dict[str, Any]:
        entry = {"table": self.table, "target": self.target, "rows": self.rows, "size_mb": self.size_mb,
                 "text_bytes": self.text_bytes, "s3_bytes": self.s3_bytes, "sampled": self.sampled}
        return entry if self.sample_error is None else {**entry, "sample_error": self.sample_error}


_SECTIONS = ("totals", "compression", "estimate")


@dataclass(frozen=True)
class RunPlan(RunDocument):
    run_id: str
    created_at: str
    tables: tuple[SizedTable, ...]
    totals: dict[str, Any]  # tables, rows, size_mb, text_bytes, s3_bytes, s3_to_gcs_egress_bytes
    compression: dict[str, Any]  # codec, ratio, sampled_tables, sample_rows, text_bytes_per_row, method
    estimate: dict[str, Any]  # transfers_s, post_data_s, total_s, throttles, rates, method, keys_and_indexes
    not_migrated: tuple[dict[str, Any], ...] = ()  # kind, name, stage, status, reason
    not_migrated_by_kind: dict[str, int] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, document: Any, url: str) -> RunPlan:
        version = format_version(document, url, FORMAT_VERSION)
        tables = entries(document, "tables", url, SizedTable.from_json)
        sections = [document.get(name) for name in _SECTIONS]
        if not all(isinstance(section, dict) for section in sections):
            raise BadInputError(f"{url}: expected objects {', '.join(_SECTIONS)}")
        dropped = document.get("not_migrated", [])
        if not isinstance(dropped, list) or not all(isinstance(o, dict) for o in dropped):
            raise BadInputError(f"{url}: not_migrated must be a list of objects")
        return cls(str(document.get("run_id", "")), str(document.get("created_at", "")), tables, *sections,
                   tuple(dropped), dict(document.get("not_migrated_by_kind") or {}), version)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "run_id": self.run_id, "created_at": self.created_at,
                "tables": [t.to_json() for t in self.tables], "totals": self.totals,
                "compression": self.compression, "not_migrated": list(self.not_migrated),
                "not_migrated_by_kind": self.not_migrated_by_kind, "estimate": self.estimate}
