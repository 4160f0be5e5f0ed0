"""dump_schema: Redshift catalog → catalog.json (written through shared/documents/catalog.py, so it satisfies
shared/schemas/catalog.schema.json) and schema_redshift.sql, both written to the run folder."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from shared import stepnames
from shared.documents.catalog import Catalog
from shared.errors import BadInputError, SourceError
from shared.objectstore import ObjectStore, RunLayout
from shared.results import utc_now
from steps.dump_schema.assemble import Filters, build_catalog
from steps.dump_schema.backup import render_backup
from steps.dump_schema.reader import read_consistent

STEP = stepnames.DUMP_SCHEMA
_NO_SCHEMA_BINDING = re.compile(r"\s+with\s+no\s+schema\s+binding\s*$", re.I)


@dataclass(frozen=True)
class DumpResult:
    catalog: dict
    backup_sql: str
    show_failures: list[tuple[str, str, str]]
    catalog_reads: int = 1  # more than 1: other sessions changed the catalog while it was read

    @property
    def counts(self) -> dict[str, int]:
        return {kind: len(self.catalog[kind]) for kind in ("schemas", "tables", "views", "functions",
                                                            "procedures", "users", "groups", "grants")} | \
            {"show_failures": len(self.show_failures), "catalog_reads": self.catalog_reads}


def make_filters(schemas: str | None, exclude_schemas: str | None, tables: str | None) -> Filters:
    def names(text: str | None) -> tuple[str, ...]:
        return tuple(n.strip() for n in (text or "").split(",") if n.strip())

    pattern = None
    if tables:
        try:
            pattern = re.compile(tables)
        except re.error as exc:
            raise BadInputError(f"--tables {tables!r} is not a valid regular expression: {exc}") from None
    return Filters(names(schemas), names(exclude_schemas), pattern)


def view_dependencies(definition: str, known: set[tuple[str, str]]) -> list[str]:
    """The dumped relations a view's text reads (unqualified names resolve to public, as on Redshift)."""
    text = _NO_SCHEMA_BINDING.sub("", definition.strip().rstrip(";")).rstrip().rstrip(";")
    try:
        tree = sqlglot.parse_one(text, read="redshift")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return []
    if tree is None:
        return []
    found = set()
    for table in tree.find_all(exp.Table):
        if isinstance(table.parent, (exp.Create,)) or not isinstance(table.this, exp.Identifier):
            continue
        name = table.name if table.this.quoted else table.name.lower()
        schema_node = table.args.get("db")
        schema = "public" if schema_node is None else (schema_node.name if schema_node.quoted
                                                       else schema_node.name.lower())
        if (schema, name) in known:
            found.add(f"{schema}.{name}")
    return sorted(found)


def check_catalog(catalog: dict) -> Catalog:
    """What we write must be what rewrite_ddl accepts: a catalog failing its definition is our bug, said clearly."""
    try:
        return Catalog.from_json(catalog, "the catalog read from Redshift")
    except BadInputError as exc:
        raise SourceError(exc.reason.replace("is not a valid catalog", "does not fit catalog.schema.json"),
                          "Report this with the object it names") from None


def dump(conn, filters: Filters, run_id: str) -> DumpResult:
    rows, shows, failures, reads = read_consistent(conn, filters)
    catalog = build_catalog(rows, shows, filters, run_id, utc_now())
    relations = {(t["schema"], t["name"]) for t in catalog["tables"]} | \
        {(v["schema"], v["name"]) for v in catalog["views"]}
    for view in catalog["views"]:
        view["depends_on"] = [d for d in view_dependencies(view["definition"], relations)
                              if d != f"{view['schema']}.{view['name']}"]
    catalog = check_catalog(catalog).to_json()  # written as its definition writes it
    return DumpResult(catalog, render_backup(catalog, shows, failures.items), failures.items, reads)


def write(result: DumpResult, store: ObjectStore, layout: RunLayout) -> list[str]:
    store.write_text(layout.schema_redshift_sql, result.backup_sql)
    store.write_json(layout.catalog_json, result.catalog)
    return [layout.schema_redshift_sql, layout.catalog_json]
