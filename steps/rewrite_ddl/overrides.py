"""The overrides file: what a user changes in the rewrite without editing generated SQL.

```yaml
exclude: ["staging.*", "public.tmp_load"]    # schema.object patterns (fnmatch) for tables, views, functions…
rename_schemas: {old_schema: new_schema}
rename_tables: {"sales.orders": "orders_2024"}          # tables and views, by Redshift name
rename_columns: {"sales.orders": {"desc": "description"}}
column_types: {"sales.orders": {"payload": "text"}}      # PostgreSQL type forced as written
postgis: true                                             # GEOMETRY/GEOGRAPHY stay PostGIS types
```
Any other key, or a value of the wrong shape, is refused in one line naming it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

import yaml

from shared.errors import BadInputError
from shared.identifiers import TableRef, parse_table_ref

KNOWN_KEYS = ("exclude", "rename_schemas", "rename_tables", "rename_columns", "column_types", "postgis")


@dataclass(frozen=True)
class Overrides:
    exclude: tuple[str, ...] = ()
    rename_schemas: dict[str, str] = field(default_factory=dict)
    rename_tables: dict[TableRef, str] = field(default_factory=dict)
    rename_columns: dict[TableRef, dict[str, str]] = field(default_factory=dict)
    column_types: dict[TableRef, dict[str, str]] = field(default_factory=dict)
    postgis: bool = False

    def excluded(self, schema: str, name: str) -> str | None:
        """The pattern that excludes `schema.name`, if any."""
        for pattern in self.exclude:
            if fnmatch.fnmatchcase(f"{schema}.{name}", pattern) or fnmatchcase_ref(schema, name, pattern):
                return pattern
        return None


def fnmatchcase_ref(schema: str, name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(str(TableRef(schema, name)), pattern)


def _string_map(value: Any, key: str, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                              for k, v in value.items()):
        raise BadInputError(f"{where}: {key} must map names to non-empty names")
    return dict(value)


def _ref(text: str, key: str, where: str) -> TableRef:
    try:
        return parse_table_ref(text)
    except BadInputError:
        raise BadInputError(f"{where}: {key}: {text!r} is not of the form schema.table") from None


def _per_table(value: Any, key: str, where: str) -> dict[TableRef, dict[str, str]]:
    if not isinstance(value, dict):
        raise BadInputError(f"{where}: {key} must map schema.table to a mapping of columns")
    return {_ref(table, key, where): _string_map(columns, f"{key}[{table}]", where)
            for table, columns in value.items()}


def parse_overrides(text: str, where: str) -> Overrides:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise BadInputError(f"{where}{line} is not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        return Overrides()
    if not isinstance(data, dict):
        raise BadInputError(f"{where} must be a mapping with keys {', '.join(KNOWN_KEYS)}")
    unknown = sorted(str(k) for k in data if k not in KNOWN_KEYS)
    if unknown:
        raise BadInputError(f"{where}: unknown key {unknown[0]!r}", f"Known keys: {', '.join(KNOWN_KEYS)}")
    exclude = data.get("exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(p, str) and p for p in exclude):
        raise BadInputError(f"{where}: exclude must be a list of schema.object patterns")
    postgis = data.get("postgis", False)
    if not isinstance(postgis, bool):
        raise BadInputError(f"{where}: postgis must be true or false")
    renames = _string_map(data.get("rename_tables") or {}, "rename_tables", where)
    return Overrides(
        exclude=tuple(exclude),
        rename_schemas=_string_map(data.get("rename_schemas") or {}, "rename_schemas", where),
        rename_tables={_ref(k, "rename_tables", where): v for k, v in renames.items()},
        rename_columns=_per_table(data.get("rename_columns") or {}, "rename_columns", where),
        column_types=_per_table(data.get("column_types") or {}, "column_types", where),
        postgis=postgis,
    )
