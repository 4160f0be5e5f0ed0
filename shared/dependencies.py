"""The one rule for SQL objects applied in dependency order (shared/applyengine.py, for validate_restore, pre-data
and post-data): which object a dependency names, and how an object that could not be applied because of another is
reported: skipped, naming the chain of dependencies down to the failure at its root, so one broken table reads as
one cause, not fifty."""

from __future__ import annotations

from collections.abc import Sequence

from shared.identifiers import canonical_part, name_parts
from shared.sqlblocks import SqlObject

# how the object at the root of a chain ended, in a skipped object's reason
_ENDED = {"failed": "failed", "skipped": "was skipped", "absent": "is not in AlloyDB"}
_SHOWN_LINKS = 5


def schema_of(name: str) -> str | None:
    """The schema part of a canonical `schema.object` name, in canonical spelling; None for a bare name."""
    parts = name_parts(name)
    return canonical_part(parts[0]) if len(parts) > 1 else None


def dependency_graph(objects: Sequence[SqlObject]) -> list[list[int]]:
    """For each object, the indexes of the objects it depends on: declared ones, plus its schema's object.

    A name refers to the first object defining it (by name, then by target name): a table comes before its
    comment. Names not defined among `objects` (pg_catalog, objects outside the run) are not dependencies.
    """
    by_name: dict[str, int] = {}
    for index, obj in enumerate(objects):
        by_name.setdefault(obj.name, index)
    for index, obj in enumerate(objects):
        if obj.target_name:
            by_name.setdefault(obj.target_name, index)
    schemas = {obj.name: i for i, obj in enumerate(objects) if obj.kind == "schema"}
    graph: list[list[int]] = []
    for index, obj in enumerate(objects):
        deps = [by_name[d] for d in obj.depends_on if d in by_name and by_name[d] != index]
        schema = schemas.get(schema_of(obj.name) or "") if obj.kind != "schema" else None
        if schema is not None and schema != index and schema not in deps:
            deps.append(schema)
        graph.append(deps)
    return graph


def skipped_reason(chain: str | Sequence[str], ended: str, reason: str | None) -> str:
    """Why an object is skipped: `chain` names the dependency it waits for ("table s.t", or a bare name) and, when
    that one was skipped for a dependency of its own, each next one down to the root, which `ended` failed, skipped
    or absent for `reason`. A root skipped for a dependency outside the chain (a pre-data object AlloyDB does not
    have) continues the chain with its own reason."""
    links = [chain] if isinstance(chain, str) else list(chain)
    if len(links) > _SHOWN_LINKS:  # a long chain: its head and its root tell the story
        links = [*links[:_SHOWN_LINKS - 2], f"({len(links) - _SHOWN_LINKS + 1} more)", links[-1]]
    text = "depends on " + ", which depends on ".join(links)
    if ended == "skipped" and (reason or "").startswith("depends on "):
        return f"{text}, which {reason}"
    return f"{text}, which {_ENDED[ended]}: {reason}"
