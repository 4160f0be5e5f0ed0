"""post-data of `--on-existing refresh` on a fresh devstack database: materialized views compared and replaced with
what is built on them, kept ones refreshed, and the views and routines the source no longer has (a function whose
argument types changed leaves its old overload) reported, and dropped only with `--dropped-in-source drop`."""

from tests.load_schema.conftest import query
from tests.load_schema.test_refresh_live import SCHEMA, name_map, next_run, post_data, pre_data, table
from tests.validate_restore.conftest import block


def matview(name: str, body: str) -> str:
    return block("materialized_view", f"shop.{name}",
                 f'CREATE MATERIALIZED VIEW "shop"."{name}" AS {body}\nWITH NO DATA;', depends_on=["shop.same"])


def view(name: str, body: str, on: str) -> str:
    return block("view", f"shop.{name}", f'CREATE VIEW "shop"."{name}" AS {body};', depends_on=[on])


def function(name: str, argument: str, body: str = "SELECT $1 + 1") -> str:
    return block("function", f"shop.{name}({argument})",
                 f'CREATE FUNCTION "shop"."{name}"({argument}) RETURNS {argument}\n'
                 f"    LANGUAGE sql IMMUTABLE AS $$ {body} $$;", target_name=f"shop.{name}", depends_on=["shop"])


ON_TOP = view("v_on_m", 'SELECT "s" FROM "shop"."m_sum";\nCOMMENT ON VIEW "shop"."v_on_m" IS \'on top\'',
              "shop.m_sum")
GRANT = block("grant", "shop.v_on_m to public", 'GRANT SELECT ON "shop"."v_on_m" TO PUBLIC;',
              depends_on=["shop.v_on_m"])
KEPT = matview("m_keep", 'SELECT count(*) AS "n" FROM "shop"."same"')
NIGHT1 = (matview("m_sum", 'SELECT sum("x") AS "s" FROM "shop"."same"') + ON_TOP + GRANT + KEPT
          + view("v_gone", 'SELECT "x" FROM "shop"."same"', "shop.same") + function("f_gone", "integer")
          + function("f_sig", "integer"))
NEW_ON_TOP = view("v_new", 'SELECT "s" + 1 AS "t" FROM "shop"."m_sum"', "shop.m_sum")
LATER = (matview("m_sum", 'SELECT sum("x") * 10 AS "s" FROM "shop"."same"') + ON_TOP + GRANT + KEPT + NEW_ON_TOP
         + function("f_sig", "bigint"))


def night(folder, post_sql: str, *pre_args: str) -> dict[str, tuple]:
    folder.put(folder.layout.validated_sql("pre-data"), SCHEMA + table("same", '"x" int'))
    folder.put(folder.layout.name_map_json, name_map("same"))
    assert pre_data(folder, *pre_args).returncode == 0
    folder.put(folder.layout.validated_sql("post-data"), post_sql)
    done = post_data(folder)
    assert done.returncode == 0, done.stderr
    return {o["name"]: (o["status"], o.get("change"), o.get("arguments"), o.get("reason"))
            for o in folder.json(folder.layout.post_data_report_json)["objects"] if o["kind"] not in ("sequence", "grant")}


def routines(dsn: str) -> list[tuple]:
    return query(dsn, "select proname, pg_get_function_identity_arguments(oid) from pg_proc "
                      "where pronamespace = 'shop'::regnamespace order by 1, 2")


def test_refresh_replaces_changed_matviews_and_reports_what_the_source_dropped(folder, alloydb):
    dsn, _ = alloydb
    first = night(folder, NIGHT1)
    assert {name: outcome[:3] for name, outcome in first.items()} == {
        "shop.m_sum": ("applied", "created", None), "shop.v_on_m": ("applied", "created", None),
        "shop.m_keep": ("applied", "created", None), "shop.v_gone": ("applied", "created", None),
        "shop.f_gone(integer)": ("applied", "created", "integer"),
        "shop.f_sig(integer)": ("applied", "created", "integer")}
    query(dsn, "insert into shop.same values (1), (2); create view shop.mine as select x from shop.v_gone")

    second = night(next_run(folder, "night2"), LATER)
    kept = "no longer in the source; kept in AlloyDB as r2a run "
    assert second.pop("shop.v_on_m") == ("unchanged", "unchanged", None, "re-created as it was: built on "
                                         "materialized_view shop.m_sum, which was replaced")
    assert {name: outcome[:3] for name, outcome in second.items()} == {
        "shop.m_sum": ("applied", "changed", None), "shop.m_keep": ("applied", "refreshed", None),
        "shop.v_new": ("applied", "created", None), "shop.f_sig(bigint)": ("applied", "created", "bigint"),
        "shop.v_gone": ("dropped_in_source", "dropped_in_source", None),
        "shop.f_gone(integer)": ("dropped_in_source", "dropped_in_source", "integer"),
        "shop.f_sig(integer)": ("dropped_in_source", "dropped_in_source", "integer")}
    assert all(second[name][3].startswith(kept) for name in ("shop.v_gone", "shop.f_gone(integer)"))
    assert query(dsn, "select s from shop.v_on_m") == [(30,)]  # the new definition, over the rows loaded since
    assert query(dsn, "select t from shop.v_new") == [(31,)]  # created on the old one, re-created with the new
    assert query(dsn, "select n from shop.m_keep") == [(2,)]  # kept and refreshed
    assert query(dsn, "select obj_description('shop.v_on_m'::regclass)") == [("on top",)]  # re-applied with it
    assert query(dsn, "select count(*) from information_schema.role_table_grants where table_schema = 'shop' "
                      "and table_name = 'v_on_m' and grantee = 'PUBLIC'") == [(1,)]
    assert routines(dsn) == [("f_gone", "integer"), ("f_sig", "bigint"), ("f_sig", "integer")]  # kept
    assert query(dsn, "select count(*) from shop.v_gone") == [(2,)]

    third = night(next_run(folder, "night3"), LATER, "--dropped-in-source", "drop")
    assert {name: outcome[:3] for name, outcome in third.items() if outcome[1] != "unchanged"} == {
        "shop.m_keep": ("applied", "refreshed", None), "shop.m_sum": ("applied", "refreshed", None),
        "shop.v_gone": ("failed", "dropped_in_source", None),
        "shop.f_gone(integer)": ("applied", "dropped_in_source", "integer"),
        "shop.f_sig(integer)": ("applied", "dropped_in_source", "integer")}
    assert third["shop.v_gone"][3].startswith("no longer in the source; not dropped: cannot drop view shop.v_gone "
                                              "because other objects depend on it")
    assert third["shop.v_on_m"][:2] == third["shop.f_sig(bigint)"][:2] == ("unchanged", "unchanged")
    assert routines(dsn) == [("f_sig", "bigint")]
    assert query(dsn, "select to_regclass('shop.v_gone')::text, to_regclass('shop.mine')::text") == [
        ("shop.v_gone", "shop.mine")]  # a view someone built on it keeps it


def test_a_changed_matview_with_a_view_not_in_the_source_on_it_is_not_replaced(folder, alloydb):
    dsn, _ = alloydb
    night(folder, matview("m_sum", 'SELECT sum("x") AS "s" FROM "shop"."same"'))
    query(dsn, "create view shop.by_hand as select s from shop.m_sum")
    second = night(next_run(folder, "night2"), matview("m_sum", 'SELECT sum("x") * 10 AS "s" FROM "shop"."same"'))
    assert second == {"shop.m_sum": ("failed", "changed", None, "changed in the source; not replaced: shop.by_hand "
                                                                "is built on it and is not in the source")}
    assert query(dsn, "select pg_get_viewdef('shop.m_sum'::regclass) like '%* 10%'") == [(False,)]


def test_a_view_whose_columns_changed_is_replaced_with_the_views_on_it(folder, alloydb):
    dsn, _ = alloydb
    top = view("v_top", 'SELECT "x" FROM "shop"."v_col"', "shop.v_col")
    night(folder, view("v_col", 'SELECT "x" FROM "shop"."same"', "shop.same") + top)
    second = night(next_run(folder, "night2"),
                   view("v_col", 'SELECT "x"::text AS "x" FROM "shop"."same"', "shop.same") + top)
    assert second == {  # CREATE OR REPLACE VIEW cannot change a column's type
        "shop.v_col": ("applied", "changed", None, "changed in the source; replaced with the 1 view(s) built on it"),
        "shop.v_top": ("unchanged", "unchanged", None, "re-created as it was: built on view shop.v_col, which was "
                                                       "replaced")}
    assert query(dsn, "select format_type(atttypid, atttypmod) from pg_attribute "
                      "where attrelid = 'shop.v_top'::regclass and attname = 'x'") == [("text",)]
