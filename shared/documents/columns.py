"""One column's mapping, as name_map.json and tables.json carry it: Redshift name and type, AlloyDB name and type,
the UNLOAD expression that reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.documents._checks import text
from shared.errors import BadInputError

# The keys of a column entry, in the order tables.json lists them; an absent optional key stays absent.
COLUMN_KEYS = ("source", "target", "unload_expression", "target_type", "source_type", "nullable")


@dataclass(frozen=True)
class MappedColumn:
    source: str
    target: str
    unload_expression: str | None = None
    target_type: str | None = None
    source_type: str | None = None
    nullable: bool | None = None

    @classmethod
    def from_json(cls, value: Any, where: str) -> MappedColumn:
        if not isinstance(value, dict):
            raise BadInputError(f"{where} must be an object")
        source, target = text(value.get("source"), f"{where}.source"), text(value.get("target"), f"{where}.target")
        for key in ("unload_expression", "target_type", "source_type"):
            if not isinstance(value.get(key), str | None):
                raise BadInputError(f"{where}.{key} must be a string when present")
        if not isinstance(value.get("nullable"), bool | None):
            raise BadInputError(f"{where}.nullable must be true or false when present")
        return cls(source, target, value.get("unload_expression"), value.get("target_type"), value.get("source_type"),
                   value.get("nullable"))

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in COLUMN_KEYS if getattr(self, key) is not None}


def columns_from_json(value: Any, where: str) -> tuple[MappedColumn, ...]:
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise BadInputError(f"{where} must be a list of objects")
    return tuple(MappedColumn.from_json(column, f"{where}[{number}]") for number, column in enumerate(value))
