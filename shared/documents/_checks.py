"""The checks every document's `from_json` shares: each raises one BadInputError naming the JSON path."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from shared.errors import BadInputError
from shared.identifiers import TableRef

T = TypeVar("T")
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@lru_cache(maxsize=16)
def json_schema(name: str) -> dict[str, Any]:
    """shared/schemas/<name>.schema.json, parsed."""
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadInputError(f"{where} must be a non-empty string")
    return value


def ref(value: Any, where: str) -> TableRef:
    if not isinstance(value, dict):
        raise BadInputError(f"{where} must be an object with schema and name")
    return TableRef(text(value.get("schema"), f"{where}.schema"), text(value.get("name"), f"{where}.name"))


def ref_json(table: TableRef) -> dict[str, str]:
    return {"schema": table.schema, "name": table.table}


def number(value: Any, where: str) -> int | float:
    """A non-negative number; absent (None) reads as 0."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadInputError(f"{where} must be a non-negative number")
    return value


def entries(document: Any, key: str, url: str, parse: Callable[[Any, str], T]) -> tuple[T, ...]:
    """document[key], a list, with each entry parsed by `parse(entry, "<url>: <key>[<position>]")`."""
    return tuple(parse(entry, f"{url}: {key}[{position}]")
                 for position, entry in enumerate(object_list(document, key, url)))


def object_list(document: Any, key: str, url: str) -> list[Any]:
    entries = document.get(key) if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise BadInputError(f"{url}: expected an object with a '{key}' list")
    return entries


def format_version(document: Any, url: str, supported: int) -> int:
    """The document's format_version, which must be the one this r2a reads; absent reads as that one (documents
    written by hand, as tests do). A document of another version is one line naming the file and both versions."""
    version = document.get("format_version", supported) if isinstance(document, dict) else supported
    if version != supported or isinstance(version, bool):
        raise BadInputError(f"{url}: format_version {str(version)[:20]!r} is not {supported}, the only one this r2a "
                            "reads", "Run the step that writes it again with this r2a version")
    return supported


def flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise BadInputError(f"{where} must be true or false")
    return value


def whole(value: Any, where: str) -> int:
    """A non-negative whole number (a count, bytes)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadInputError(f"{where} must be a non-negative whole number")
    return value


def optional_text(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise BadInputError(f"{where} must be a string or null")
    return value


def tally(value: Any, where: str) -> dict[str, int]:
    """An object of counts by name ({"view": 2})."""
    if not isinstance(value, dict):
        raise BadInputError(f"{where} must be an object of counts")
    return {name: whole(count, f"{where}.{name}") for name, count in value.items()}


def objects(value: Any, where: str) -> tuple[dict[str, Any], ...]:
    """A list of objects, kept as they are (their fields are the JSON Schema's to describe)."""
    if not isinstance(value, list):
        raise BadInputError(f"{where} must be a list of objects")
    for position, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise BadInputError(f"{where}[{position}] must be an object")
    return tuple(value)
