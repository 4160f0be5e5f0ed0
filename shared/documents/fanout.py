"""fanout.json: the items Argo's transfer loop runs, as load_schema pre-data planned them (steps/load_schema/fanout.py):
a table alone ("schema.table") or a batch id (its tables in batches/<batch_id>.json). Pre-data prints the same items
as a bare JSON list on stdout, which is the loop's parameter; this file is the run folder's copy of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.documents._checks import format_version
from shared.documents.base import RunDocument
from shared.errors import BadInputError

FORMAT_VERSION = 1
SCHEMA = "fanout"


@dataclass(frozen=True)
class Fanout(RunDocument):
    run_id: str
    items: tuple[str, ...]  # largest tables first, then the batches
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, document: Any, url: str) -> Fanout:
        version = format_version(document, url, FORMAT_VERSION)
        items = document.get("items") if isinstance(document, dict) else None
        if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
            raise BadInputError(f"{url}: expected an object with an 'items' list of table names and batch ids")
        return cls(str(document.get("run_id", "")), tuple(items), version)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "run_id": self.run_id, "items": list(self.items)}
