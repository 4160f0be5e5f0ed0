"""batches/<batch_id>.json: the small tables one fan-out item moves together (load_schema pre-data writes them,
table_transfer --batch and the report read them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.documents._checks import format_version
from shared.documents.base import RunDocument
from shared.errors import BadInputError

FORMAT_VERSION = 1
SCHEMA = "batch"


@dataclass(frozen=True)
class Batch(RunDocument):
    run_id: str
    batch_id: str
    tables: tuple[str, ...]  # Redshift names, "schema.table", largest first
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, document: Any, url: str) -> Batch:
        version = format_version(document, url, FORMAT_VERSION)
        tables = document.get("tables") if isinstance(document, dict) else None
        batch_id = document.get("batch_id") if isinstance(document, dict) else None
        if not isinstance(batch_id, str) or not isinstance(tables, list) \
                or not all(isinstance(name, str) for name in tables):
            raise BadInputError(f"{url}: expected an object with 'batch_id' and a 'tables' list of names")
        return cls(str(document.get("run_id", "")), batch_id, tuple(tables), version)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "run_id": self.run_id, "batch_id": self.batch_id,
                "tables": list(self.tables)}
