"""tables.json: the tables that exist in AlloyDB, largest first, with the column mapping from name_map.json."""

from __future__ import annotations

from typing import Any

from shared.errors import BadInputError
from shared.identifiers import TableRef

FORMAT_VERSION = 1
COLUMN_KEYS = ("source", "target", "unload_expression", "target_type", "source_type", "nullable")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadInputError(f"{where} must be a non-empty string")
    return value


def _ref(entry: dict, key: str, where: str) -> TableRef:
    part = entry.get(key)
    if not isinstance(part, dict):
        raise BadInputError(f"{where}.{key} must be an object with schema and name")
    return TableRef(_text(part.get("schema"), f"{where}.{key}.schema"), _text(part.get("name"), f"{where}.{key}.name"))


def _number(value: Any, where: str) -> float:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadInputError(f"{where} must be a non-negative number")
    return value


def name_map_tables(name_map: Any, url: str) -> list[dict[str, Any]]:
    """The table entries of name_map.json, checked; each becomes a tables.json entry (unsorted)."""
    if not isinstance(name_map, dict) or not isinstance(name_map.get("tables"), list):
        raise BadInputError(f"{url}: expected an object with a 'tables' list")
    entries = []
    for position, table in enumerate(name_map["tables"]):
        where = f"{url}: tables[{position}]"
        if not isinstance(table, dict):
            raise BadInputError(f"{where} must be an object")
        if table.get("kind", "table") != "table":
            continue
        source, target = _ref(table, "source", where), _ref(table, "target", where)
        columns = table.get("columns")
        if not isinstance(columns, list) or not all(isinstance(c, dict) for c in columns):
            raise BadInputError(f"{where}.columns must be a list of objects")
        mapped = []
        for number, column in enumerate(columns):
            for key in ("source", "target"):
                _text(column.get(key), f"{where}.columns[{number}].{key}")
            mapped.append({key: column[key] for key in COLUMN_KEYS if key in column})
        entries.append({"table": str(source), "target": str(target),
                        "source": {"schema": source.schema, "name": source.table},
                        "target_ref": {"schema": target.schema, "name": target.table},
                        "estimated_rows": _number(table.get("estimated_rows"), f"{where}.estimated_rows"),
                        "size_mb": _number(table.get("size_mb"), f"{where}.size_mb"),
                        "columns": mapped})
    return entries


def target_of(entry: dict[str, Any]) -> TableRef:
    return TableRef(entry["target_ref"]["schema"], entry["target_ref"]["name"])


def planned_tables(document: Any, url: str) -> list[tuple[str, TableRef]]:
    """(Redshift name, AlloyDB table) of every table in tables.json."""
    entries = document.get("tables") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise BadInputError(f"{url}: expected an object with a 'tables' list")
    planned = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise BadInputError(f"{url}: tables[{position}] must be an object")
        where = f"{url}: tables[{position}]"
        planned.append((_text(entry.get("table"), f"{where}.table"), _ref(entry, "target_ref", where)))
    return planned


def largest_first(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (-e["size_mb"], -e["estimated_rows"], e["table"]))


def tables_document(run_id: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "run_id": run_id, "tables": entries}
