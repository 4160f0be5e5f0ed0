"""tables.json from name_map.json: the carried tables that exist in AlloyDB, largest first (the documents
themselves are defined in shared/documents)."""

from __future__ import annotations

from typing import Any

from shared.documents.name_map import NameMap
from shared.documents.tables import PlannedTable, TablePlan, size_order
from shared.identifiers import TableRef


def name_map_tables(name_map: Any, url: str) -> list[PlannedTable]:
    """The table entries of name_map.json, checked; each becomes a tables.json entry (unsorted)."""
    return [PlannedTable.from_mapped(table) for table in NameMap.from_json(name_map, url).carried_tables()]


def planned_tables(document: Any, url: str) -> list[tuple[str, TableRef]]:
    """(Redshift name, AlloyDB table) of every table in tables.json."""
    return [(table.table, table.target) for table in TablePlan.from_json(document, url).tables]


def largest_first(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """tables.json entries as dicts (fanout's input), in TablePlan's order."""
    return sorted(entries, key=lambda e: size_order(e["size_mb"], e["estimated_rows"], e["table"]))
