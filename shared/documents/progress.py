"""load_schema_pre_data_progress.json: the tables this run's pre-data has created so far, saved at every commit,
so that a retried attempt keeps them instead of stopping at them as if a stranger had made them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.documents._checks import format_version
from shared.documents.base import RunDocument
from shared.errors import BadInputError

FORMAT_VERSION = 1
SCHEMA = "pre_data_progress"


@dataclass(frozen=True)
class PreDataProgress(RunDocument):
    run_id: str
    created_tables: tuple[str, ...]  # AlloyDB names, "schema.table", sorted
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, document: Any, url: str) -> PreDataProgress:
        version = format_version(document, url, FORMAT_VERSION)
        tables = document.get("created_tables") if isinstance(document, dict) else None
        if not isinstance(tables, list) or not all(isinstance(name, str) and name for name in tables):
            raise BadInputError(f"{url}: expected an object with a 'created_tables' list of names")
        return cls(str(document.get("run_id", "")), tuple(tables), version)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "run_id": self.run_id,
                "created_tables": list(self.created_tables)}
