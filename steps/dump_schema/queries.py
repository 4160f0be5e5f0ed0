"""The catalog queries dump_schema runs on Redshift: a constant number, whatever the size of the database
(plus one SHOW per table, view and procedure). Only catalog tables, views and functions that Redshift documents
(or that AWS's own admin views use: format_type, format_encoding, attisdistkey, attsortkeyord, adsrc,
pg_get_constraintdef, reldiststyle) appear here. System schemas are filtered in Python (`SYSTEM_SCHEMAS`).

Temporary tables are never part of a migration: each session's live in its own schema pg_temp_nnn
(https://docs.aws.amazon.com/redshift/latest/dg/r_search_path.html), which every query here leaves out by name,
so another session's scratch table is never read, even where a system view would list it."""


VERSION = "SELECT version(), current_database()"

SCHEMAS = """
SELECT n.oid, n.nspname, u.usename, d.description, n.nspacl
FROM pg_namespace n
LEFT JOIN pg_user u ON u.usesysid = n.nspowner
LEFT JOIN pg_description d ON d.objoid = n.oid AND d.objsubid = 0
WHERE substring(n.nspname FROM 1 FOR 8) <> 'pg_temp_'
ORDER BY n.nspname"""

# relkind r = table, v = view (Redshift materialized views are views whose SHOW VIEW says MATERIALIZED).
# A materialized view keeps its rows in an internal table of the same schema named mv_tbl__<view>__<n>, which
# pg_class lists as a table (dbt-redshift reads it so: dbt-labs/dbt-core#15452; DBeaver had to hide it:
# dbeaver/dbeaver#39649). It is Redshift's storage, not the user's: the view is recreated and refreshed instead.
RELATIONS = """
SELECT c.oid, n.nspname, c.relname, c.relkind, u.usename, c.reldiststyle, d.description, c.relacl
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_user u ON u.usesysid = c.relowner
LEFT JOIN pg_description d ON d.objoid = c.oid AND d.objsubid = 0
WHERE c.relkind IN ('r', 'v') AND substring(n.nspname FROM 1 FOR 8) <> 'pg_temp_'
AND NOT (c.relkind = 'r' AND substring(c.relname FROM 1 FOR 8) = 'mv_tbl__' AND EXISTS (
    SELECT 1 FROM pg_class v WHERE v.relnamespace = c.relnamespace AND v.relkind = 'v'
    AND substring(c.relname FROM 1 FOR char_length(v.relname) + 10) = 'mv_tbl__' || v.relname || '__'))
ORDER BY n.nspname, c.relname"""

COLUMNS = """
SELECT c.oid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, ad.adsrc, d.description
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_description d ON d.objoid = c.oid AND d.objsubid = a.attnum
WHERE c.relkind IN ('r', 'v') AND a.attnum > 0 AND NOT a.attisdropped AND substring(n.nspname FROM 1 FOR 8) <> 'pg_temp_'
ORDER BY c.oid, a.attnum"""

# pg_table_def lists only schemas on the search_path: the reader sets it to every dumped schema first.
TABLE_DEF = """
SELECT schemaname, tablename, "column", encoding, distkey, sortkey
FROM pg_table_def
WHERE substring(schemaname FROM 1 FOR 8) <> 'pg_temp_'
"""

# The cluster's slices and nodes (footprint.py: the blocks a table takes however little it holds).
CLUSTER_SLICES = "SELECT COUNT(*), COUNT(DISTINCT node) FROM stv_slices"

TABLE_INFO = """
SELECT "schema", "table", diststyle, size, tbl_rows, estimated_visible_rows
FROM svv_table_info
WHERE substring("schema" FROM 1 FOR 8) <> 'pg_temp_'
"""

CONSTRAINTS = """
SELECT con.conrelid, con.conname, con.contype, fn.nspname, fc.relname, pg_get_constraintdef(con.oid)
FROM pg_constraint con
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype IN ('p', 'u', 'f') AND substring(n.nspname FROM 1 FOR 8) <> 'pg_temp_'
ORDER BY con.conrelid, con.conname"""

FUNCTIONS = """
SELECT p.oid, n.nspname, p.proname, l.lanname, p.prorettype, p.proargtypes, p.provolatile, p.prosrc,
       u.usename, d.description, p.proargnames
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
LEFT JOIN pg_user u ON u.usesysid = p.proowner
LEFT JOIN pg_description d ON d.objoid = p.oid AND d.objsubid = 0
WHERE l.lanname NOT IN ('internal', 'c')
ORDER BY n.nspname, p.proname, p.oid"""

VIEWS = "SELECT schemaname, viewname, definition FROM pg_views WHERE substring(schemaname FROM 1 FOR 8) <> 'pg_temp_'"

TYPES = "SELECT oid, typname FROM pg_type"

USERS = "SELECT usesysid, usename, usesuper, usecreatedb FROM pg_user ORDER BY usename"

GROUPS = "SELECT groname, grolist FROM pg_group ORDER BY groname"

# Objects that hold no data to migrate, from the system views AWS documents for them
# (https://docs.aws.amazon.com/redshift/latest/dg/r_<VIEW>.html): kind → (view, query). Each row is
# (schema or None, name, detail), except the kinds of `assemble.GRANT_SHAPES`, whose rows it names.
REDSHIFT_ONLY = {
    "external_schema": ("svv_external_schemas",
                        "SELECT NULL, schemaname, 'external database ' || databasename FROM svv_external_schemas"),
    "external_table": ("svv_external_tables",
                       "SELECT schemaname, tablename, 'data in ' || location FROM svv_external_tables"),
    "library": ("pg_library", "SELECT NULL, name, NULL FROM pg_library"),
    "model": ("svv_ml_model_info", "SELECT trim(schema_name), trim(model_name), NULL FROM svv_ml_model_info"),
    "rls_policy": ("svv_rls_policy", "SELECT NULL, polname, 'USING (' || polqual || ')' FROM svv_rls_policy"),
    # visible to every user (a regular one sees its own tables); the attachments only to sys:secadmin, so a
    # dump user without that role finds that view unreadable, which the report says
    "rls_table": ("svv_rls_relation",
                  "SELECT relschema, relname, rls_conjunction_type FROM svv_rls_relation WHERE is_rls_on"),
    "rls_attachment": ("svv_rls_attached_policy",
                       "SELECT relschema, relname, polname, granteekind, grantee FROM svv_rls_attached_policy"),
    "datashare": ("svv_datashares", "SELECT NULL, share_name, lower(share_type) FROM svv_datashares"),
    "role": ("svv_roles", "SELECT NULL, role_name, NULL FROM svv_roles"),
    # autorefresh is char(1) 't' by the page's column table, 1 in its example: compared in Python
    "auto_refresh": ("svv_mv_info", "SELECT trim(schema_name), trim(name), autorefresh FROM svv_mv_info"),
    "assumerole": ("svv_iam_privileges",
                   "SELECT iam_arn, command_type, identity_type, identity_name FROM svv_iam_privileges"),
    "system_privilege": ("svv_system_privileges",
                         "SELECT system_privilege, identity_type, identity_name FROM svv_system_privileges"),
    # the privileges AlloyDB has reach the catalog through relacl; these two it lacks
    "table_privilege": ("svv_relation_privileges",
                        "SELECT namespace_name, relation_name, privilege_type, identity_type, identity_name "
                        "FROM svv_relation_privileges WHERE privilege_type IN ('ALTER', 'DROP')"),
    "language_privilege": ("svv_language_privileges",
                           "SELECT language_name, privilege_type, identity_type, identity_name "
                           "FROM svv_language_privileges"),
}

# Schemas that belong to Redshift itself, never dumped (plus every pg_* schema).
SYSTEM_SCHEMAS = frozenset({"information_schema", "catalog_history", "pg_catalog", "pg_internal", "pg_automv",
                            "pg_auto_copy", "pg_mv", "pg_s3", "sys"})


def is_system_schema(name: str) -> bool:
    return name in SYSTEM_SCHEMAS or name.startswith("pg_")
