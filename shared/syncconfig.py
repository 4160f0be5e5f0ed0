"""The sync config: per table, how a scheduled run brings AlloyDB up to date with Redshift.

```json
{"format_version": 1, "default_mode": "full",
 "tables": {"sales.orders": {"mode": "upsert", "cursor": "updated_at", "key": ["order_id"], "lag": "3600"},
            "sales.events": {"mode": "append", "cursor": "event_id", "lag": "1000"}},
 "notes": {"sales.audit": "stays full: no identity or timestamp column to use as a cursor"}}
```

- `full` (the default): the table is unloaded and reloaded whole, as without a config.
- `append`: rows whose cursor (an ever-increasing column: an identity, a load timestamp) is at or past the last
  watermark minus `lag` are read again and replace the target's rows of that window.
- `upsert`: rows whose cursor (e.g. `updated_at`) is at or past the last watermark minus `lag` replace the target's
  rows with the same `key` (Redshift does not enforce keys, so the key is the config's, else the declared one).
  `"mirror_deletes": true` also UNLOADs the source's key set each run (keys only) and deletes the target's rows
  whose key left the source.

`lag` is in the cursor's unit: a number for a numeric cursor, seconds for a date or timestamp one. The file is JSON
(YAML is read too) in the run bucket (gs://, s3://) or on disk, named by `--sync-config`; `r2a sync-config init`
writes a starting one from a run's catalog.json (`initial_config`). Every table name in it is hostile input: it is
only ever compared with the plan's names, never put into SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from shared.errors import BadInputError
from shared.log import json_for_lines

FULL, APPEND, UPSERT = "full", "append", "upsert"
MODES = (FULL, APPEND, UPSERT)
FORMAT_VERSION = 1

# Column names a load timestamp or a change timestamp usually has (lower case), and the Redshift types a cursor can
# have: values that order the same in Redshift and PostgreSQL and have one exact text form.
CURSOR_NAMES = ("updated_at", "modified_at", "last_modified", "load_tstamp", "loaded_at", "load_timestamp",
                "etl_updated_at", "updated", "update_ts", "changed_at")
CURSOR_TYPES = ("smallint", "integer", "bigint", "numeric", "date", "timestamp without time zone",
                "timestamp with time zone")

JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "r2a sync config",
    "type": "object",
    "additionalProperties": False,
    "required": ["tables"],
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "default_mode": {"const": FULL},
        "tables": {
            "type": "object",
            "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["mode"],
                "properties": {
                    "mode": {"enum": list(MODES)},
                    "cursor": {"type": "string", "minLength": 1},
                    "key": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
                    "lag": {"type": ["string", "number"]},
                    "mirror_deletes": {"type": "boolean"},
                },
            },
        },
        "notes": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@dataclass(frozen=True)
class TableSync:
    mode: str = FULL
    cursor: str | None = None
    key: tuple[str, ...] = ()
    lag: Decimal = Decimal(0)
    mirror_deletes: bool = False  # upsert: delete target rows whose key left the source (a key-set comparison)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mode": self.mode}
        if self.cursor is not None:
            data["cursor"] = self.cursor
        if self.key:
            data["key"] = list(self.key)
        if self.lag:
            data["lag"] = str(self.lag)
        if self.mirror_deletes:
            data["mirror_deletes"] = True
        return data


@dataclass(frozen=True)
class SyncConfig:
    tables: dict[str, TableSync] = field(default_factory=dict)  # "schema.table" (Redshift) -> its mode
    notes: dict[str, str] = field(default_factory=dict)  # "schema.table" -> why it stays full

    def for_table(self, table: str) -> TableSync:
        return self.tables.get(table, TableSync())

    def full_reason(self, table: str) -> str:
        """Why `table` is loaded in full: its note, else what the config says of it."""
        if table in self.notes:
            return self.notes[table][:500]
        return "full in the sync config" if table in self.tables else "not named in the sync config"

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "default_mode": FULL,
                "tables": {name: sync.to_dict() for name, sync in sorted(self.tables.items())},
                "notes": dict(sorted(self.notes.items()))}

    def to_json(self) -> str:
        # table names are Redshift's text; `r2a sync-config init -o -` prints this to a terminal
        return json_for_lines(json.dumps(self.to_dict(), indent=2, ensure_ascii=False)) + "\n"


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise BadInputError(f"{where} must be a non-empty list of column names")
    return tuple(value)


def _lag(value: Any, where: str) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadInputError(f"{where} must be a number (the cursor's unit; seconds for a timestamp)")
    try:
        lag = Decimal(str(value))
    except InvalidOperation:
        raise BadInputError(f"{where} {str(value)[:50]!r} is not a number") from None
    if not lag.is_finite() or lag < 0:
        raise BadInputError(f"{where} must be a number >= 0")
    return lag


def table_sync(entry: Any, where: str) -> TableSync:
    if not isinstance(entry, dict):
        raise BadInputError(f"{where} must be an object with a mode")
    unknown = sorted(set(entry) - {"mode", "cursor", "key", "lag", "mirror_deletes"})
    if unknown:
        raise BadInputError(f"{where} has unknown keys: {', '.join(k[:50] for k in unknown)}")
    mode = entry.get("mode")
    if mode not in MODES:
        raise BadInputError(f"{where}.mode {str(mode)[:50]!r} is not one of {', '.join(MODES)}")
    cursor = entry.get("cursor")
    if mode != FULL and (not isinstance(cursor, str) or not cursor):
        raise BadInputError(f"{where}: mode {mode} needs a cursor column")
    key = _strings(entry["key"], f"{where}.key") if entry.get("key") is not None else ()
    mirror = entry.get("mirror_deletes", False)
    if not isinstance(mirror, bool) or (mirror and mode != UPSERT):
        raise BadInputError(f"{where}.mirror_deletes must be true or false, and true only with mode upsert")
    return TableSync(mode, cursor if isinstance(cursor, str) else None, key, _lag(entry.get("lag"), f"{where}.lag"),
                     mirror)


def parse(document: Any, where: str) -> SyncConfig:
    """A sync config document, checked; every error names the file and the entry."""
    if not isinstance(document, dict) or not isinstance(document.get("tables"), dict):
        raise BadInputError(f"{where}: expected an object with a 'tables' object")
    unknown = sorted(set(document) - set(JSON_SCHEMA["properties"]))
    if unknown:
        raise BadInputError(f"{where}: unknown keys: {', '.join(k[:50] for k in unknown)}")
    if document.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise BadInputError(f"{where}: format_version must be {FORMAT_VERSION}")
    if document.get("default_mode", FULL) != FULL:
        raise BadInputError(f"{where}: default_mode must be full (a table is incremental only when named)")
    tables = {}
    for name, entry in document["tables"].items():
        tables[name] = table_sync(entry, f"{where}: tables[{name[:100]!r}]")
    notes = document.get("notes") or {}
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        raise BadInputError(f"{where}: notes must map table names to text")
    return SyncConfig(tables, dict(notes))


def parse_text(text: str, where: str) -> SyncConfig:
    try:
        document = json.loads(text)
    except ValueError:
        import yaml  # only for a YAML file: JSON is the format r2a writes

        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BadInputError(f"{where}: neither JSON nor YAML ({str(exc).splitlines()[0][:200]})") from None
    return parse(document, where)


def read_config(location: str, store=None) -> SyncConfig:
    """The config at gs://…, s3://… (through `store`, a shared.objectstore.ObjectStore) or a local path."""
    if "://" in location:
        if store is None:
            raise BadInputError(f"--sync-config {location[:200]}: no object store to read it from")
        return parse_text(store.read_text(location), location)
    path = Path(location)
    if not path.is_file():
        raise BadInputError(f"--sync-config {location[:200]}: no such file")
    return parse_text(path.read_text(encoding="utf-8"), location)


# ------------------------------------------------------------------------------------------ r2a sync-config init

def _cursor_candidate(columns: list[dict]) -> tuple[str | None, str]:
    """(column, why): an identity column first, then a timestamp column named like a load/change time."""
    for column in columns:
        if column.get("identity") and _base_type(column) in CURSOR_TYPES:
            return column["name"], "identity column"
    for column in columns:
        if str(column.get("name", "")).lower() in CURSOR_NAMES and _base_type(column).startswith(("timestamp", "date")):
            return column["name"], "timestamp column named like a change time"
    return None, "no identity column and no timestamp column named like updated_at/load_tstamp"


def _base_type(column: dict) -> str:
    from shared.redshift_types import UnknownTypeError, parse_type

    try:
        return parse_type(str(column.get("type") or "")).canonical
    except UnknownTypeError:
        return ""


def initial_config(catalog: dict) -> SyncConfig:
    """A starting config from a catalog.json: `upsert` where a cursor and a declared primary key exist, `append`
    where only a cursor (an identity) exists, else `full` with the reason in `notes`. A user reviews it: a
    timestamp named updated_at is a guess at what changes when a row changes."""
    tables: dict[str, TableSync] = {}
    notes: dict[str, str] = {}
    for table in catalog.get("tables") or []:
        name = f"{table['schema']}.{table['name']}"
        columns = table.get("columns") or []
        cursor, why = _cursor_candidate(columns)
        key = _primary_key(table)
        if cursor is None:
            notes[name] = f"stays full: {why}"
        elif key:
            tables[name] = TableSync(UPSERT, cursor, key)
        elif why == "identity column":
            tables[name] = TableSync(APPEND, cursor)
        else:
            notes[name] = f"stays full: cursor {cursor} ({why}) but no declared primary key to merge by; name a key"
    return SyncConfig(tables, notes)


def _primary_key(table: dict) -> tuple[str, ...]:
    for constraint in table.get("constraints") or []:
        if constraint.get("kind") == "primary_key" and constraint.get("columns"):
            return tuple(constraint["columns"])
    return ()
