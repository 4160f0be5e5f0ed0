"""schema_redshift.sql: the source schema as Redshift DDL, replayable on Redshift (the first of the two backups
the old system kept). Tables come from SHOW TABLE (referenced tables first, so foreign keys replay), views from
SHOW VIEW after what they read, procedures from SHOW PROCEDURE; SQL/Python UDFs are rebuilt from pg_proc."""

from __future__ import annotations

from shared.ordering import dependency_order
from shared.sqltext import comment_line, dollar_quoted
from steps.dump_schema.assemble import Shows
from steps.dump_schema.quoting import ident, literal, qualified


def _statement(text: str) -> str:
    text = text.strip()
    return text if text.endswith(";") else text + ";"


def render_backup(catalog: dict, shows: Shows, failures: list[tuple[str, str, str]]) -> str:
    source = catalog.get("source", {})
    lines = [f"-- Redshift schema of database {source.get('database')} dumped by r2a dump_schema",
             f"-- run {catalog['run_id']} at {source.get('dumped_at')}; {source.get('version')}", ""]
    for kind, name, error in failures:
        lines.append(comment_line(f"-- SHOW {kind.upper()} {name} failed: {error}"))
    for obj in catalog.get("redshift_only", []):
        detail = f" ({obj['detail']})" if obj.get("detail") else ""
        lines.append(comment_line(f"-- not in this backup: {obj['kind'].replace('_', ' ')} {obj['name']}{detail}"))
    for schema in catalog["schemas"]:
        if schema["name"] != "public":
            lines.append(f"CREATE SCHEMA IF NOT EXISTS {ident(schema['name'])};")
        if schema.get("comment"):
            lines.append(f"COMMENT ON SCHEMA {ident(schema['name'])} IS {literal(schema['comment'])};")
    lines.append("")
    tables = {(t["schema"], t["name"]): t for t in catalog["tables"]}
    needs = {key: {(c["references"]["schema"], c["references"]["table"]) for c in t.get("constraints", [])
                   if c["kind"] == "foreign_key" and c.get("references")} for key, t in tables.items()}
    for key in dependency_order(sorted(tables), needs):
        table = tables[key]
        text = shows.tables.get(key)
        if text:
            lines.append(_statement(text))
        else:
            lines.append(comment_line(f"-- {qualified(*key)}: SHOW TABLE gave nothing"))
        if table.get("comment"):
            lines.append(f"COMMENT ON TABLE {qualified(*key)} IS {literal(table['comment'])};")
        for column in table["columns"]:
            if column.get("comment"):
                lines.append(f"COMMENT ON COLUMN {qualified(*key)}.{ident(column['name'])} "
                             f"IS {literal(column['comment'])};")
        lines.append("")
    for function in catalog["functions"]:
        arguments = ", ".join(a["type"] for a in function["arguments"])
        # The body is text from Redshift: `$$` when the body cannot end it early, else a tag it does not hold.
        lines.append(f"CREATE OR REPLACE FUNCTION {qualified(function['schema'], function['name'])}({arguments}) "
                     f"RETURNS {function['returns']} {function['volatility'].upper()} AS "
                     f"{dollar_quoted(function['body'], '')} LANGUAGE {function['language']};")
        lines.append("")
    views = {(v["schema"], v["name"]): v for v in catalog["views"]}
    view_needs = {key: {tuple(d.split(".", 1)) for d in v.get("depends_on", []) if "." in d}
                  for key, v in views.items()}
    for key in dependency_order(sorted(views), view_needs):
        text = views[key]["definition"]
        if not text.lstrip().lower().startswith("create"):
            text = f"CREATE VIEW {qualified(*key)} AS {text}"
        lines.append(_statement(text))
        if views[key].get("comment"):
            lines.append(f"COMMENT ON VIEW {qualified(*key)} IS {literal(views[key]['comment'])};")
        lines.append("")
    for procedure in catalog["procedures"]:
        lines.append(_statement(procedure["definition"]))
        lines.append("")
    for grant in catalog["grants"]:
        on = f"SCHEMA {ident(grant['schema'])}" if grant["object_kind"] == "schema" else \
            qualified(grant["schema"], grant["name"])
        grantee = {"public": "PUBLIC", "group": f"GROUP {ident(grant['grantee'])}"}.get(
            grant["grantee_kind"], ident(grant["grantee"]))
        lines.append(f"GRANT {', '.join(grant['privileges'])} ON {on} TO {grantee};")
    return "\n".join(lines).rstrip() + "\n"
