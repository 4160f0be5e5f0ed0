"""`--on-existing refresh` (the default) on a fresh devstack database: a second run keeps and refreshes what the
first r2a run created, follows an added column, fails a table whose columns changed otherwise, reports tables the
source dropped, and still stops at tables no r2a run created."""

import json

from shared.identifiers import parse_table_ref
from shared.objectstore import RunLayout
from tests.load_schema.conftest import fanout_tables, query
from tests.support.runfolder import RunFolder
from tests.support.steps import one_error_line, run_step
from tests.validate_restore.conftest import block

STEP = "steps.load_schema"
SCHEMA = block("schema", "shop", 'CREATE SCHEMA "shop";')


def table(name: str, columns: str) -> str:
    return block("table", f"shop.{name}", f'CREATE TABLE "shop"."{name}" ({columns});', depends_on=["shop"])


def name_map(*names: str) -> str:
    return json.dumps({"tables": [{"source": {"schema": "shop", "name": n}, "target": {"schema": "shop", "name": n},
                                   "columns": [{"source": "x", "target": "x"}]} for n in names]})


def pre_data(folder: RunFolder, *extra: str):
    return run_step(STEP, ["--run-id", folder.run_id, "--section", "pre-data", *extra], folder.environ)


def next_run(folder: RunFolder, suffix: str) -> RunFolder:
    layout = RunLayout(f"{folder.run_id}_{suffix}", folder.layout.gcs_bucket, folder.layout.gcs_prefix)
    return RunFolder(layout.run_id, folder.store, layout, folder.environ)


def columns(dsn: str, name: str) -> list[tuple]:
    return query(dsn, "select attname, format_type(atttypid, atttypmod), attnotnull from pg_attribute "
                      "where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
                 (f"shop.{name}",))


def test_a_second_run_refreshes_what_r2a_created_and_follows_the_source(folder, alloydb):
    dsn, _ = alloydb
    folder.put(folder.layout.validated_sql("pre-data"), SCHEMA + table("same", '"x" int') + table("more", '"x" int')
               + table("retyped", '"x" int') + table("gone", '"x" int'))
    folder.put(folder.layout.name_map_json, name_map("same", "more", "retyped", "gone"))
    assert pre_data(folder).returncode == 0
    query(dsn, "insert into shop.same values (1); create index same_x on shop.same (x); "
               "insert into shop.more values (2)")

    night2 = next_run(folder, "night2")
    night2.put(night2.layout.validated_sql("pre-data"), SCHEMA + table("same", '"x" int')
               + table("more", """"x" int, "y" varchar(5) DEFAULT 'd' NOT NULL""")
               + table("retyped", '"x" bigint') + table("new", '"x" int'))
    night2.put(night2.layout.name_map_json, name_map("same", "more", "retyped", "new"))
    done = pre_data(night2)
    assert done.returncode == 0, done.stderr

    report = night2.json(night2.layout.load_report_json)
    outcomes = {o["name"]: (o["status"], o.get("change"), o.get("reason")) for o in report["objects"]}
    assert outcomes["shop"][:2] == ("unchanged", "unchanged")
    assert outcomes["shop.same"][:2] == ("unchanged", "refreshed")
    assert outcomes["shop.more"] == ("applied", "changed",
                                     "column(s) added in the source, added here: y; data refreshed")
    assert outcomes["shop.retyped"] == ("failed", "changed", "schema changed in the source; not loaded: column 1 is "
                                        "x integer in AlloyDB but x bigint in the source")
    assert outcomes["shop.new"][:2] == ("applied", "created")
    assert outcomes["shop.gone"][:2] == ("dropped_in_source", "dropped_in_source")

    assert query(dsn, "select x from shop.same") == [(1,)]  # the transfer, not pre-data, reloads it
    assert query(dsn, "select indexname from pg_indexes where tablename = 'same'") == [("same_x",)]
    assert columns(dsn, "more") == [("x", "integer", False), ("y", "character varying(5)", True)]
    assert query(dsn, "select y from shop.more") == [("d",)]
    assert columns(dsn, "retyped") == [("x", "integer", False)]  # left as it was
    assert query(dsn, "select count(*) from shop.gone") == [(0,)]  # kept: never dropped for the source
    # never loads shifted columns
    assert sorted(fanout_tables(night2, json.loads(done.stdout))) == ["shop.more", "shop.new", "shop.same"]
    failed = night2.json(night2.layout.result(parse_table_ref("shop.retyped")))
    assert failed["status"] == "failed"
    assert failed["error"]["message"].startswith("not transferred: schema changed in the source; not loaded: ")


def test_refresh_still_stops_at_a_table_no_r2a_run_created(folder, alloydb):
    dsn, _ = alloydb
    folder.put(folder.layout.validated_sql("pre-data"), SCHEMA + table("same", '"x" int'))
    folder.put(folder.layout.name_map_json, name_map("same"))
    assert pre_data(folder).returncode == 0
    query(dsn, "create table shop.stranger (x int); insert into shop.stranger values (1); "
               "drop table shop.same; create table shop.same (x int)")  # the same name, not r2a's table any more

    night2 = next_run(folder, "night2")
    night2.put(night2.layout.validated_sql("pre-data"), SCHEMA + table("same", '"x" int') + table("stranger", '"x" int'))
    night2.put(night2.layout.name_map_json, name_map("same", "stranger"))
    done = pre_data(night2, "--on-existing", "refresh")
    assert done.returncode == 6
    assert one_error_line(done, "load_schema").endswith(
        "2 table(s) already exist in AlloyDB: shop.same, shop.stranger. Nothing was changed. Re-run with --on-existing skip "
        "to keep them or --on-existing replace to drop and recreate them")
    assert query(dsn, "select x from shop.stranger") == [(1,)]
    assert not night2.has(night2.layout.load_report_json)


def post_data(folder: RunFolder):
    return run_step(STEP, ["--run-id", folder.run_id, "--section", "post-data"], folder.environ)


def view(body: str) -> str:
    return block("view", "shop.v_same", f'CREATE VIEW "shop"."v_same" AS {body};', depends_on=["shop.same"])


def function(body: str) -> str:
    return block("function", "shop.f_one", 'CREATE FUNCTION "shop"."f_one"(integer) RETURNS integer\n'
                                           f"    LANGUAGE sql IMMUTABLE AS $$ {body} $$;", depends_on=["shop"])


COMMENT = block("comment", "shop.same", """COMMENT ON TABLE "shop"."same" IS 'nightly';""", depends_on=["shop.same"])


def test_post_data_of_a_refresh_keeps_what_is_there_and_replaces_what_changed(folder, alloydb):
    """Keys and indexes already there are covered by test_post_data_live (reported unchanged)."""
    dsn, _ = alloydb
    nights = [folder, next_run(folder, "night2"), next_run(folder, "night3")]
    definitions = [('SELECT "x" FROM "shop"."same"', "SELECT $1 + 1"),
                   ('SELECT "x" FROM "shop"."same"', "SELECT $1 + 1"),
                   ('SELECT "x" * 2 AS "x" FROM "shop"."same"', "SELECT $1 + 2")]
    outcomes = []
    for night, (view_body, function_body) in zip(nights, definitions, strict=True):
        night.put(night.layout.validated_sql("pre-data"), SCHEMA + table("same", '"x" int'))
        night.put(night.layout.name_map_json, name_map("same"))
        assert pre_data(night).returncode == 0
        night.put(night.layout.validated_sql("post-data"), view(view_body) + function(function_body) + COMMENT)
        done = post_data(night)
        assert done.returncode == 0, done.stderr
        report = night.json(night.layout.post_data_report_json)
        outcomes.append({o["name"]: (o["status"], o.get("change")) for o in report["objects"]
                         if o["kind"] not in ("sequence", "comment")})
        comments = [(o["status"], o.get("change")) for o in report["objects"] if o["kind"] == "comment"]
        assert comments == [("applied", None)]  # runs again every night: neither "created" nor "changed"
        if night is nights[0]:
            query(dsn, "insert into shop.same values (5); create view shop.on_top as select x from shop.v_same")

    assert outcomes[0] == {"shop.v_same": ("applied", "created"), "shop.f_one": ("applied", "created")}
    assert outcomes[1] == {"shop.v_same": ("unchanged", "unchanged"), "shop.f_one": ("unchanged", "unchanged")}
    assert outcomes[2] == {"shop.v_same": ("applied", "changed"), "shop.f_one": ("applied", "changed")}
    assert query(dsn, "select x from shop.on_top") == [(10,)]  # replaced in place: the view built on it stays
    assert query(dsn, "select shop.f_one(1)") == [(3,)]
    assert night.json(night.layout.step_result("load_schema_post_data"))["status"] == "succeeded"


def test_dropped_in_source_drop_drops_r2a_tables_the_source_no_longer_has(folder, alloydb):
    dsn, _ = alloydb
    folder.put(folder.layout.validated_sql("pre-data"), SCHEMA + table("same", '"x" int') + table("gone", '"x" int')
               + table("viewed", '"x" int'))
    folder.put(folder.layout.name_map_json, name_map("same", "gone", "viewed"))
    assert pre_data(folder).returncode == 0
    query(dsn, "create view shop.on_viewed as select x from shop.viewed")

    night2 = next_run(folder, "night2")
    night2.put(night2.layout.validated_sql("pre-data"), SCHEMA + table("same", '"x" int'))
    night2.put(night2.layout.name_map_json, name_map("same"))
    done = pre_data(night2, "--dropped-in-source", "drop")
    assert done.returncode == 0, done.stderr
    outcomes = {o["name"]: (o["status"], o.get("change"), o.get("reason"))
                for o in night2.json(night2.layout.load_report_json)["objects"] if o["kind"] == "table"}
    assert outcomes["shop.gone"] == ("applied", "dropped_in_source",
                                     "no longer in the source; dropped (--dropped-in-source drop)")
    status, change, reason = outcomes["shop.viewed"]
    assert (status, change) == ("failed", "dropped_in_source")
    assert reason.startswith("no longer in the source; not dropped: cannot drop table shop.viewed because other "
                             "objects depend on it")
    assert query(dsn, "select to_regclass('shop.gone'), to_regclass('shop.viewed')::text") == [(None, "shop.viewed")]

    night3 = next_run(folder, "night3")
    night3.put(night3.layout.validated_sql("pre-data"), SCHEMA + table("same", '"x" int'))
    night3.put(night3.layout.name_map_json, name_map("same"))
    assert pre_data(night3).returncode == 0
    reported = {o["name"]: o["status"] for o in night3.json(night3.layout.load_report_json)["objects"] if o["kind"] == "table"}
    assert reported == {"shop.same": "unchanged", "shop.viewed": "dropped_in_source"}  # gone left the record
