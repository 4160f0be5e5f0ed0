"""Objects that hold no data (external schema and table, library, model, RLS policy, datashare, Lambda UDF),
created over the wire in the Redshift emulator, reach catalog.json through the system views AWS documents for
them (the UDF through pg_proc) and come out of rewrite_ddl's report as not migrated, each with its reason: none is
dropped silently."""

from __future__ import annotations

import json
import uuid

import psycopg2

from steps.dump_schema.assemble import Filters
from steps.dump_schema.core import dump
from steps.rewrite_ddl.catalog import catalog_from_dict
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
    [lambda_udf] = [o for o in report["objects"] if o["kind"] == "function" and f"exf_{tag}" in o["name"]]
    assert lambda_udf["status"] == "unsupported" and "exfunc" in lambda_udf["reason"]
