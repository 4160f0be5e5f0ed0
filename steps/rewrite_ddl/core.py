"""rewrite_ddl: catalog.json → pre_data.sql, post_data.sql, views.sql, compat.sql, name_map.json,
rewrite_report.json. `rewrite` is pure (same catalog and options → byte-identical files); `run` does the I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass

from shared import stepnames
from shared.documents.catalog import Catalog, catalog_from_dict
from shared.errors import BadInputError
from shared.identifiers import TableRef, canonical_name
from shared.layout import (
    COMPAT_SQL,
    NAME_MAP_JSON,
    POST_DATA_SQL,
    PRE_DATA_SQL,
    REWRITE_REPORT_JSON,
    VIEWS_SQL,
)
from shared.objectstore import ObjectStore, RunLayout
from shared.sqlblocks import SqlObject, render
from steps.rewrite_ddl.compat import compat_objects
from steps.rewrite_ddl.names import NamePlan
from steps.rewrite_ddl.output import ObjectEntry, RewriteOutput
from steps.rewrite_ddl.overrides import Overrides, parse_overrides
from steps.rewrite_ddl.roles import rewrite_roles
from steps.rewrite_ddl.sqltext import ident, literal
from steps.rewrite_ddl.tables import Options, TableContext, rewrite_table
from steps.rewrite_ddl.views import rewrite_functions, rewrite_procedures, rewrite_views

STEP = stepnames.REWRITE_DDL
FILE_HEADER = "-- Written by r2a rewrite_ddl from catalog.json of run {run_id}. One object per block.\n\n"


@dataclass(frozen=True)
class RewriteFiles:
    """File name → content, exactly as written to the run folder."""

    files: dict[str, str]
    counts: dict[str, int]


def _exclusions(catalog: Catalog, overrides: Overrides, out: RewriteOutput) -> set[TableRef]:
    excluded: set[TableRef] = set()
    kinds = [("table", t.schema, t.name) for t in catalog.tables]
    kinds += [(v.kind, v.schema, v.name) for v in catalog.views]
    kinds += [("function", f.schema, f.name) for f in catalog.functions]
    kinds += [("procedure", p.schema, p.name) for p in catalog.procedures]
    for kind, schema, name in sorted(kinds, key=lambda k: (k[1], k[2], k[0])):
        pattern = overrides.excluded(schema, name)
        if pattern is not None:
            excluded.add(TableRef(schema, name))
            out.entries.append(ObjectEntry(kind, canonical_name(schema, name), None, "skipped",
                                           f"excluded by the overrides file (pattern {pattern!r})"))
    return excluded


def _schemas(catalog: Catalog, names: list[str], plan: NamePlan, out: RewriteOutput) -> None:
    info = {s.name: s for s in catalog.schemas}
    for schema in sorted(names):
        target = plan.schemas[schema]
        changes = [f"renamed to {target}"] if target != schema else []
        sql = f"CREATE SCHEMA IF NOT EXISTS {ident(target)};"
        comment = info[schema].comment if schema in info else None
        if comment:
            sql += f"\nCOMMENT ON SCHEMA {ident(target)} IS {literal(comment)};"
        out.add(out.pre_data, ObjectEntry("schema", canonical_name(schema), canonical_name(target),
                                          "converted_with_changes" if changes else "converted", None, changes), sql)
        out.schema_map[schema] = target


def rewrite(catalog: Catalog, overrides: Overrides, options: Options) -> RewriteOutput:
    out = RewriteOutput()
    excluded = _exclusions(catalog, overrides, out)
    tables = sorted((t for t in catalog.tables if TableRef(t.schema, t.name) not in excluded),
                    key=lambda t: (t.schema, t.name))
    views = sorted((v for v in catalog.views if TableRef(v.schema, v.name) not in excluded),
                   key=lambda v: (v.schema, v.name))
    functions = [f for f in catalog.functions if TableRef(f.schema, f.name) not in excluded]
    procedures = [p for p in catalog.procedures if TableRef(p.schema, p.name) not in excluded]
    schema_names = sorted({s.name for s in catalog.schemas} | {t.schema for t in tables} | {v.schema for v in views}
                          | {f.schema for f in functions} | {p.schema for p in procedures})
    relations = [TableRef(t.schema, t.name) for t in tables] + [TableRef(v.schema, v.name) for v in views]
    if len(set(relations)) != len(relations):
        duplicate = next(r for r in relations if relations.count(r) > 1)
        raise BadInputError(f"catalog.json lists {duplicate} twice (as a table or a view)")
    for table in tables:
        names = [c.name for c in table.columns]
        if len(set(names)) != len(names):
            duplicate = next(n for n in names if names.count(n) > 1)
            raise BadInputError(f"catalog.json lists column {canonical_name(duplicate)} of "
                                f"{TableRef(table.schema, table.name)} twice")
    plan = NamePlan(schema_names, relations, overrides.rename_schemas, overrides.rename_tables)
    _schemas(catalog, schema_names, plan, out)
    context = TableContext.build(tables, plan, overrides, options, excluded)
    for table in tables:
        rewrite_table(table, context, out)
    rewrite_functions(functions, plan, overrides, context.renamed_columns, out, context.relation_columns)
    rewrite_views(views, plan, overrides, context.renamed_columns, out, context.relation_columns)
    rewrite_procedures(procedures, plan, overrides, out)
    rewrite_roles(catalog, plan, options.grants, excluded, out)
    out.compat = compat_objects(out.compat_used)
    out.entries.extend(ObjectEntry(o.kind, o.name, o.target_name, "converted", None, [], list(o.depends_on))
                       for o in out.compat)
    out.entries.extend(ObjectEntry(o.kind, o.name, None, "unsupported", redshift_only_reason(o.kind, o.detail))
                       for o in sorted(catalog.redshift_only, key=lambda o: (o.kind, o.name)))
    return out


# Why an object Redshift keeps is not created in AlloyDB: none of them holds data of the database.
_REDSHIFT_ONLY_REASONS = {
    "external_schema": "external schema (Redshift Spectrum / federated query): its tables live outside Redshift; "
                       "not created (use a foreign data wrapper in AlloyDB if they are still needed)",
    "external_table": "external table: its data stays in its S3 location; not migrated",
    "library": "Python library for Python UDFs: AlloyDB has no plpythonu library store; not migrated",
    "model": "Redshift ML model (trained in SageMaker): not migrated",
    "rls_policy": "row-level security policy: not migrated (recreate it as a PostgreSQL row security policy)",
    "rls_table": "row-level security is ON for this table in Redshift: AlloyDB gets the table without it, so "
                 "every user granted SELECT there reads every row; enable row security and create its policies "
                 "in AlloyDB before granting access",
    "rls_attachment": "row-level security policy attachment: not migrated (the policy is not created in AlloyDB)",
    "datashare": "datashare: AlloyDB has no datashares; not migrated",
    "role": "role (role-based access control): not created in AlloyDB; grants that name it apply only once it "
            "exists there",
    "auto_refresh": "AUTO REFRESH: AlloyDB has no auto-refreshed materialized views; the materialized view is "
                    "migrated without it (refresh it on a schedule)",
    "assumerole": "ASSUMEROLE grant: an AWS IAM privilege (the roles COPY, UNLOAD, CREATE MODEL and Lambda UDFs "
                  "may use) with no AlloyDB equivalent; not migrated",
    "system_privilege": "system permission granted to a role (role-based access control): AlloyDB grants no "
                        "such permissions; not migrated (use role attributes such as CREATEROLE there)",
    "table_privilege": "ALTER or DROP privilege on a table: PostgreSQL has neither privilege (only the owner may "
                       "alter or drop); not migrated",
    "language_privilege": "USAGE ON LANGUAGE grant: not migrated (AlloyDB has no Python, Lambda or ML UDF "
                          "languages; SQL and PL/pgSQL are everyone's there)",
    "unreadable": "dump_schema could not read this catalog view, so these objects were not checked",
}


def redshift_only_reason(kind: str, detail: str | None) -> str:
    reason = _REDSHIFT_ONLY_REASONS.get(kind, f"{kind.replace('_', ' ')}: not migrated")
    return f"{reason} ({detail})" if detail else reason


def json_document(value: dict) -> str:
    """Sorted keys, one top-level key per line and one list item per line: readable and diffable, and written
    by json's C encoder (indent= would switch to the pure-Python one, 10x slower on 10,000 tables)."""

    def dump(item) -> str:
        return json.dumps(item, sort_keys=True, ensure_ascii=False)

    lines = []
    for key in sorted(value):
        item = value[key]
        if isinstance(item, list) and item:
            body = ",\n    ".join(dump(element) for element in item)
            lines.append(f"  {dump(key)}: [\n    {body}\n  ]")
        else:
            lines.append(f"  {dump(key)}: {dump(item)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _sql_file(run_id: str, objects: list[SqlObject]) -> str:
    return FILE_HEADER.format(run_id=run_id) + render(objects)


def render_files(catalog: Catalog, overrides: Overrides, options: Options) -> RewriteFiles:
    out = rewrite(catalog, overrides, options)
    run_id = catalog.run_id
    report = out.report(run_id)

    files = {
        PRE_DATA_SQL: _sql_file(run_id, out.pre_data),
        POST_DATA_SQL: _sql_file(run_id, out.post_data_in_order()),
        VIEWS_SQL: _sql_file(run_id, out.views),
        COMPAT_SQL: _sql_file(run_id, out.compat),
        NAME_MAP_JSON: json_document(out.name_map(run_id).to_json()),
        REWRITE_REPORT_JSON: json_document(report.to_json()),
    }
    return RewriteFiles(files, report.counts)


def output_urls(layout: RunLayout) -> dict[str, str]:
    """Where each file of `render_files` goes, by its name there."""
    return {PRE_DATA_SQL: layout.pre_data_sql, POST_DATA_SQL: layout.post_data_sql, VIEWS_SQL: layout.views_sql,
            COMPAT_SQL: layout.compat_sql, NAME_MAP_JSON: layout.name_map_json,
            REWRITE_REPORT_JSON: layout.rewrite_report_json}


def load_overrides(store: ObjectStore, location: str | None) -> Overrides:
    if not location:
        return Overrides()
    if location.startswith(("gs://", "s3://")):
        text = store.read_text(location)
    else:
        try:
            with open(location, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise BadInputError(f"overrides file {location} cannot be read: {exc.strerror}") from None
    return parse_overrides(text, f"overrides file {location}")


def run(run_id: str, store: ObjectStore, layout: RunLayout, overrides: Overrides, options: Options) -> RewriteFiles:
    """Read the run's catalog.json, rewrite it, write every output file; returns what was written."""
    catalog_url = layout.catalog_json
    if not store.exists(catalog_url):
        raise BadInputError(f"{catalog_url} does not exist", "Run dump_schema for this run id first")
    data = store.read_json(catalog_url)
    catalog = catalog_from_dict(data, catalog_url)
    if catalog.run_id != run_id:
        raise BadInputError(f"{catalog_url} belongs to run {catalog.run_id!r}, not {run_id!r}")
    result = render_files(catalog, overrides, options)
    urls = output_urls(layout)
    for filename, text in result.files.items():
        content_type = "application/json" if filename.endswith(".json") else "text/plain; charset=utf-8"
        store.write_bytes(urls[filename], text.encode("utf-8"), content_type)
    return result
