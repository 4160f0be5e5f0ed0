"""Objects that hold no data (external schema and table, library, model, RLS policy with its attachment and the
table it protects, datashare, Lambda UDF), a materialized view's AUTO REFRESH and the grants AlloyDB has no
privilege for (ASSUMEROLE, system permissions, ALTER / DROP on a table, USAGE ON LANGUAGE), created over the wire
in the Redshift emulator, reach catalog.json through the system views AWS documents for them
(https://docs.aws.amazon.com/redshift/latest/dg/r_<VIEW>.html: SVV_MV_INFO, SVV_IAM_PRIVILEGES,
SVV_SYSTEM_PRIVILEGES, SVV_RELATION_PRIVILEGES, SVV_LANGUAGE_PRIVILEGES, SVV_RLS_RELATION, …; the UDF through
pg_proc) and come out of rewrite_ddl's report as not migrated, each with its reason: none is dropped silently. A
view an older cluster lacks is reported as not read, and the rest of the dump goes on."""

from __future__ import annotations

import html
import json
import uuid

import psycopg2

from devstack import env as envfile
from shared.documents.catalog import catalog_from_dict
from steps.dump_schema.assemble import Filters
from steps.dump_schema.core import dump
from steps.report.collect import RawRun
from steps.report.core import build_report
from steps.report.timefmt import parse_ts
from steps.rewrite_ddl.core import render_files
from steps.rewrite_ddl.overrides import Overrides
from steps.rewrite_ddl.tables import Options

ROLE = "arn:aws:iam::123456789012:role/r2a-test"


def test_objects_without_data_are_reported_not_migrated(redshift):
    tag = uuid.uuid4().hex[:8]
    schema, external = f"ro_{tag}", f"ext_{tag}"
    conn = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                            user=redshift["user"], password=redshift["password"], sslmode="disable")
    conn.autocommit = True
    statements = [
        f"create schema {schema}",
        f"create table {schema}.t (a int, b varchar(10))",
        f"create external schema {external} from data catalog database 'lake' iam_role '{ROLE}'",
        f"create external table {external}.clicks (id bigint) stored as parquet location 's3://lake/clicks/'",
        f"create library lib_{tag} language plpythonu from 's3://bucket/lib.zip' iam_role '{ROLE}'",
        f"create model {schema}.m_{tag} from {schema}.t target b function f_{tag} iam_role default "
        "settings (s3_bucket 'bucket')",
        f"create rls policy pol_{tag} with (b varchar(10)) using (b = 'x')",
        f"attach rls policy pol_{tag} on {schema}.t to public",
        f"alter table {schema}.t row level security on conjunction type or",
        f"create datashare share_{tag}",
        f"create role role_{tag}",
        f"create external function {schema}.exf_{tag}(int) returns int volatile lambda 'fn' iam_role '{ROLE}'",
    ]
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        result = dump(conn, Filters(schemas=(schema, external)), "dev_20260101_000000")
    finally:
        with conn.cursor() as cur:
            for statement in (f"drop role role_{tag}", f"drop datashare share_{tag}",
                              f"drop rls policy pol_{tag} cascade", f"drop library lib_{tag}",
                              f"drop schema {external}", f"drop schema {schema} cascade"):
                cur.execute(statement)
        conn.close()
    listed = {(o["kind"], o["name"]) for o in result.catalog["redshift_only"]}
    assert {("external_schema", external), ("external_table", f"{external}.clicks"), ("library", f"lib_{tag}"),
            ("model", f"{schema}.m_{tag}"), ("rls_policy", f"pol_{tag}"), ("datashare", f"share_{tag}"),
            ("role", f"role_{tag}")} <= listed
    assert external not in {s["name"] for s in result.catalog["schemas"]}
    assert f"-- not in this backup: external table {external}.clicks (data in s3://lake/clicks/)" in result.backup_sql
    files = render_files(catalog_from_dict(json.loads(json.dumps(result.catalog))), Overrides(), Options())
    report = json.loads(files.files["rewrite_report.json"])
    entries = {(o["kind"], o["name"]): o for o in report["objects"]}
    for key in [("external_schema", external), ("external_table", f"{external}.clicks"), ("library", f"lib_{tag}"),
                ("model", f"{schema}.m_{tag}"), ("rls_policy", f"pol_{tag}"), ("datashare", f"share_{tag}"),
                ("role", f"role_{tag}")]:
        assert entries[key]["status"] == "unsupported" and entries[key]["reason"], key
    assert "s3://lake/clicks/" in entries[("external_table", f"{external}.clicks")]["reason"]
    assert "USING (b = 'x')" in entries[("rls_policy", f"pol_{tag}")]["reason"]
    # r_SVV_RLS_RELATION.html, r_SVV_RLS_ATTACHED_POLICY.html: the table AlloyDB gets without its row security
    rls_table = entries[("rls_table", f"{schema}.t")]
    assert rls_table["status"] == "unsupported" and "every user granted SELECT there reads every row" in \
        rls_table["reason"] and "combined with OR" in rls_table["reason"]
    assert entries[("rls_attachment", f"pol_{tag} on {schema}.t to public")]["status"] == "unsupported"
    [lambda_udf] = [o for o in report["objects"] if o["kind"] == "function" and f"exf_{tag}" in o["name"]]
    assert lambda_udf["status"] == "unsupported" and "exfunc" in lambda_udf["reason"]


def _connect(redshift):
    conn = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                            user=redshift["user"], password=redshift["password"], sslmode="disable")
    conn.autocommit = True
    return conn


def _rewrite_report(catalog: dict) -> dict:
    files = render_files(catalog_from_dict(json.loads(json.dumps(catalog))), Overrides(), Options())
    return json.loads(files.files["rewrite_report.json"])


def _report(catalog: dict) -> dict:
    return {(o["kind"], o["name"]): o for o in _rewrite_report(catalog)["objects"]}


def _report_html(catalog: dict) -> str:
    """report.html of a run whose only document is this catalog's rewrite_report.json."""
    document = _rewrite_report(catalog)
    raw = RawRun(document["run_id"], {"rewrite_report.json": document}, {})
    return build_report(raw, parse_ts("2026-01-01T00:05:00Z"), {}).files["report.html"].decode()


def test_auto_refresh_and_grants_without_an_alloydb_privilege_are_reported(redshift):
    tag = uuid.uuid4().hex[:8]
    schema, user, role = f"gr_{tag}", f"u_{tag}", f"r_{tag}"
    conn = _connect(redshift)
    statements = [
        f"create schema {schema}", f"create user {user} password 'Abcdefg1'", f"create role {role}",
        f"create table {schema}.t (a int)",
        f"create materialized view {schema}.mv_auto auto refresh yes as select a from {schema}.t",
        f"create materialized view {schema}.mv_plain as select a from {schema}.t",
        f"grant assumerole on '{ROLE}' to {user} for copy, unload",
        f"grant create user to role {role}",
        f"grant select, alter, drop on {schema}.t to {user}",
        f"grant usage on language plpythonu to {user}",
    ]
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        result = dump(conn, Filters(schemas=(schema,)), "dev_20260101_000000")
    finally:
        with conn.cursor() as cur:
            for statement in (f"revoke assumerole on '{ROLE}' from {user} for copy, unload",
                              f"revoke create user from role {role}", f"revoke usage on language plpythonu from {user}",
                              f"drop schema {schema} cascade", f"drop role {role} force", f"drop user {user}"):
                cur.execute(statement)
        conn.close()
    expected = {
        ("auto_refresh", f"{schema}.mv_auto"): (None, "no auto-refreshed materialized views"),
        ("assumerole", f"{ROLE} to user {user}"): ("COPY, UNLOAD", "AWS IAM privilege"),
        ("system_privilege", f"CREATE USER to role {role}"): (None, "system permission"),
        ("table_privilege", f"{schema}.t to user {user}"): ("ALTER, DROP", "ALTER or DROP privilege"),
        ("language_privilege", f"plpythonu to user {user}"): ("USAGE", "USAGE ON LANGUAGE"),
    }
    listed = {(o["kind"], o["name"]): o.get("detail") for o in result.catalog["redshift_only"]}
    assert {key: listed.get(key, "missing") for key in expected} == {key: d for key, (d, _) in expected.items()}
    assert ("auto_refresh", f"{schema}.mv_plain") not in listed
    entries = _report(result.catalog)
    for key, (_, reason) in expected.items():
        assert entries[key]["status"] == "unsupported" and reason in entries[key]["reason"], key
    page = _report_html(result.catalog)       # report.html's "Objects not migrated" lists each with its reason
    for kind, name in expected:
        assert html.escape(name) in page and html.escape(entries[(kind, name)]["reason"]) in page, name
    # the materialized view itself still migrates; SELECT stays an ordinary grant
    assert {v["name"] for v in result.catalog["views"]} == {"mv_auto", "mv_plain"}
    assert [g["privileges"] for g in result.catalog["grants"] if g["grantee"] == user] == [["SELECT"]]


def test_a_view_the_cluster_lacks_is_reported_unread_and_the_dump_goes_on(redshift, devstack):
    """An older cluster without SVV_MV_INFO (here: renamed away in the emulator's backend) answers 42P01; the dump
    records it as `unreadable` and reads everything else, in a new transaction."""
    tag = uuid.uuid4().hex[:8]
    schema = f"old_{tag}"
    conn = _connect(redshift)
    backend = psycopg2.connect(envfile.postgres_dsn(devstack, devstack["postgres"]["databases"]["redshift"]))
    backend.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f"create schema {schema}")
            cur.execute(f"create table {schema}.t (a int)")
            cur.execute(f"grant drop on {schema}.t to public")
        with backend.cursor() as cur:
            cur.execute("alter view r2a_catalog.svv_mv_info rename to svv_mv_info_hidden")
        try:
            result = dump(conn, Filters(schemas=(schema,)), "dev_20260101_000000")
        finally:
            with backend.cursor() as cur:
                cur.execute("alter view r2a_catalog.svv_mv_info_hidden rename to svv_mv_info")
    finally:
        with conn.cursor() as cur:
            cur.execute(f"drop schema {schema} cascade")
        conn.close()
        backend.close()
    listed = {(o["kind"], o["name"]): o.get("detail") for o in result.catalog["redshift_only"]}
    assert "svv_mv_info" in listed[("unreadable", "svv_mv_info")]
    assert listed[("table_privilege", f"{schema}.t to public")] == "DROP"  # read after the failed view
    assert [t["name"] for t in result.catalog["tables"]] == ["t"]
    entry = _report(result.catalog)[("unreadable", "svv_mv_info")]
    assert entry["status"] == "unsupported" and "could not read" in entry["reason"]
