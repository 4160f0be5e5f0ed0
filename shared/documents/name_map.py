"""name_map.json: rewrite_ddl's mapping of every carried table to its AlloyDB name and columns, and of every
Redshift schema to its AlloyDB schema. load_schema turns its tables into tables.json; plan sizes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.documents._checks import entries, format_version, number, ref, ref_json
from shared.documents.base import RunDocument
from shared.documents.columns import MappedColumn, columns_from_json
from shared.errors import BadInputError
from shared.identifiers import TableRef

FORMAT_VERSION = 1
SCHEMA = "name_map"


@dataclass(frozen=True)
class MappedTable:
    source: TableRef
    target: TableRef
    columns: tuple[MappedColumn, ...]
    estimated_rows: int | float | None = None
    size_mb: int | float | None = None
    kind: str = "table"

    @classmethod
    def from_json(cls, value: Any, where: str) -> MappedTable:
        if not isinstance(value, dict):
            raise BadInputError(f"{where} must be an object")
        number(value.get("estimated_rows"), f"{where}.estimated_rows")
        number(value.get("size_mb"), f"{where}.size_mb")
        return cls(ref(value.get("source"), f"{where}.source"), ref(value.get("target"), f"{where}.target"),
                   columns_from_json(value.get("columns"), f"{where}.columns"), value.get("estimated_rows"),
                   value.get("size_mb"), value.get("kind", "table"))

    def to_json(self) -> dict[str, Any]:
        return {"source": ref_json(self.source), "target": ref_json(self.target), "kind": self.kind,
                "estimated_rows": self.estimated_rows, "size_mb": self.size_mb,
                "columns": [c.to_json() for c in self.columns]}


@dataclass(frozen=True)
class NameMap(RunDocument):
    run_id: str
    tables: tuple[MappedTable, ...]
    schemas: dict[str, str] = field(default_factory=dict)  # Redshift schema -> AlloyDB schema
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, document: Any, url: str) -> NameMap:
        version = format_version(document, url, FORMAT_VERSION)
        tables = entries(document, "tables", url, MappedTable.from_json)
        schemas = document.get("schemas") or {}
        if not isinstance(schemas, dict) or not all(isinstance(v, str) for v in schemas.values()):
            raise BadInputError(f"{url}: schemas must be an object of schema names")
        return cls(str(document.get("run_id", "")), tables, dict(schemas), version)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "run_id": self.run_id,
                "schemas": dict(sorted(self.schemas.items())), "tables": [t.to_json() for t in self.tables]}

    def carried_tables(self) -> tuple[MappedTable, ...]:
        """The entries that are tables (the only kind rewrite_ddl writes today; another kind is not transferred)."""
        return tuple(t for t in self.tables if t.kind == "table")
