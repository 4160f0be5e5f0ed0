"""AlloyDB names for every Redshift name: ≤ 63 bytes, unique where PostgreSQL needs it, overrides applied.

Namespaces follow PostgreSQL: schemas; per schema, relations (tables, views) together with the index names
that PRIMARY KEY, UNIQUE and sort-key indexes create; per table, columns and foreign-key names. Inside a
namespace names chosen by the user come first, then names that already fit (kept as they are), then long
names in sorted order, so the result never depends on the order of the catalog.
"""

from __future__ import annotations

from shared.identifiers import PG_MAX_IDENTIFIER_BYTES, TableRef, short_name


def _fits(name: str) -> bool:
    return len(name.encode("utf-8")) <= PG_MAX_IDENTIFIER_BYTES


class Namespace:
    """Hands out unique names; `reserve` for names that must stay, `assign` for any other."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def reserve(self, wanted: str) -> str:
        salt, candidate = 0, short_name(wanted)
        while candidate in self._taken:
            salt += 1
            candidate = short_name(wanted, salt)
        self._taken.add(candidate)
        return candidate

    assign = reserve

    def assign_all(self, names: list[str], fixed: dict[str, str] | None = None) -> dict[str, str]:
        """Targets for `names` (source names), `fixed` (source → wanted) first, fitting names next."""
        fixed = fixed or {}
        result: dict[str, str] = {}
        for source in sorted(n for n in names if n in fixed):
            result[source] = self.reserve(fixed[source])
        rest = [n for n in names if n not in fixed]
        for source in sorted(n for n in rest if _fits(n)):
            result[source] = self.reserve(source)
        for source in sorted(n for n in rest if not _fits(n)):
            result[source] = self.reserve(source)
        return result


class NamePlan:
    """Every Redshift → AlloyDB name of one rewrite."""

    def __init__(self, schemas: list[str], relations: list[TableRef], schema_renames: dict[str, str],
                 relation_renames: dict[TableRef, str]):
        self.schemas = Namespace().assign_all(schemas, {s: t for s, t in schema_renames.items() if s in schemas})
        self._relation_space: dict[str, Namespace] = {}
        self.relations: dict[TableRef, TableRef] = {}
        by_schema: dict[str, list[str]] = {}
        for ref in relations:
            by_schema.setdefault(ref.schema, []).append(ref.table)
        for schema in sorted(by_schema):
            target_schema = self.schemas[schema]
            space = self._relation_space.setdefault(target_schema, Namespace())
            fixed = {r.table: new for r, new in relation_renames.items() if r.schema == schema}
            for name, target in space.assign_all(by_schema[schema], fixed).items():
                self.relations[TableRef(schema, name)] = TableRef(target_schema, target)

    def relation(self, ref: TableRef) -> TableRef | None:
        return self.relations.get(ref)

    def schema_level_name(self, target_schema: str, wanted: str) -> str:
        """A name in the schema's relation namespace (PRIMARY KEY / UNIQUE / index names)."""
        return self._relation_space.setdefault(target_schema, Namespace()).assign(wanted)
