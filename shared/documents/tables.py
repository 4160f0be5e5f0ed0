"""tables.json: the tables load_schema's pre-data created in AlloyDB, largest first, each with its column mapping
from name_map.json. table_transfer moves the tables it names; load_schema's post-data, the report and `r2a status`
read it as the run's plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.documents._checks import entries, format_version, number, ref, ref_json, text
from shared.documents.base import RunDocument
from shared.documents.columns import MappedColumn, columns_from_json
from shared.documents.name_map import MappedTable
from shared.errors import BadInputError
from shared.identifiers import TableRef

FORMAT_VERSION = 1
SCHEMA = "tables"


def size_order(size_mb: float, estimated_rows: float, table: str) -> tuple[float, float, str]:
    """tables.json's order: largest first (size, then rows), then by name, so equal tables keep one order."""
    return -size_mb, -estimated_rows, table


@dataclass(frozen=True)
class PlannedTable:
    source: TableRef  # Redshift
    target: TableRef  # AlloyDB
    columns: tuple[MappedColumn, ...]
    estimated_rows: int | float = 0
    size_mb: int | float = 0

    @property
    def table(self) -> str:
        """The Redshift name, "schema.table": the key results, batches and the report use."""
        return str(self.source)

    @classmethod
    def from_mapped(cls, mapped: MappedTable) -> PlannedTable:
        return cls(mapped.source, mapped.target, mapped.columns, number(mapped.estimated_rows, "estimated_rows"),
                   number(mapped.size_mb, "size_mb"))

    @classmethod
    def from_json(cls, value: Any, where: str) -> PlannedTable:
        """One entry, checked: the names first (what every reader needs), then the columns."""
        if not isinstance(value, dict):
            raise BadInputError(f"{where} must be an object")
        text(value.get("table"), f"{where}.table")
        target = ref(value.get("target_ref"), f"{where}.target_ref")
        source = ref(value.get("source"), f"{where}.source")
        return cls(source, target, columns_from_json(value.get("columns"), f"{where}.columns"),
                   number(value.get("estimated_rows"), f"{where}.estimated_rows"),
                   number(value.get("size_mb"), f"{where}.size_mb"))

    def to_json(self) -> dict[str, Any]:
        return {"table": str(self.source), "target": str(self.target), "source": ref_json(self.source),
                "target_ref": ref_json(self.target), "estimated_rows": self.estimated_rows, "size_mb": self.size_mb,
                "columns": [c.to_json() for c in self.columns]}


@dataclass(frozen=True)
class TablePlan(RunDocument):
    run_id: str
    tables: tuple[PlannedTable, ...]
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, document: Any, url: str) -> TablePlan:
        version = format_version(document, url, FORMAT_VERSION)
        return cls(str(document.get("run_id", "")), entries(document, "tables", url, PlannedTable.from_json), version)

    @classmethod
    def largest_first(cls, run_id: str, tables: list[PlannedTable]) -> TablePlan:
        return cls(run_id, tuple(sorted(tables, key=lambda t: size_order(t.size_mb, t.estimated_rows, t.table))))

    def to_json(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "run_id": self.run_id,
                "tables": [t.to_json() for t in self.tables]}
