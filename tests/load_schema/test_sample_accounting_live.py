"""The devstack sample database (TICKIT + the edge schema) through the four schema steps, each run as a process:
every object dump_schema found is accounted for — it is in AlloyDB, or a report of the step that stopped it says
why. (Data-dependent outcomes — violated keys, identity reseed after the load — are checked on the whole DAG by
tests/workflows/test_demo.py.)"""

from __future__ import annotations

import psycopg2
import pytest

from shared.identifiers import canonical_name
from tests.load_schema.conftest import module_target, query, run_steps

SCHEMAS = "tickit,edge"
GONE = {"unsupported", "skipped", "failed", "not_valid"}


@pytest.fixture(scope="module")
def moved(devstack, sample_redshift, devstack_environ):
    with module_target(devstack, devstack_environ, "accounting") as (folder, dsn):
        run_steps(folder, [("steps.dump_schema", ["--schemas", SCHEMAS]), ("steps.rewrite_ddl", []),
                           ("steps.validate_restore", []), ("steps.load_schema", ["--section", "pre-data"]),
                           ("steps.load_schema", ["--section", "post-data"])])
        yield folder, dsn


def entries(report: dict) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["name"]): o for o in report["objects"]}


def test_every_dumped_object_is_in_alloydb_or_reported_with_a_reason(moved):
    folder, dsn = moved
    catalog = folder.json(folder.layout.catalog_json)
    rewrite = entries(folder.json(folder.layout.rewrite_report_json))
    validation = entries(folder.json(folder.layout.validation_report_json))
    loaded = entries(folder.json(folder.layout.load_report_json)) | entries(folder.json(folder.layout.post_data_report_json))

    dumped = [("table", canonical_name(t["schema"], t["name"])) for t in catalog["tables"]]
    dumped += [("materialized_view" if v.get("kind") == "materialized_view" else "view",
                canonical_name(v["schema"], v["name"])) for v in catalog["views"]]
    assert len(dumped) > 10 and any(name.startswith("tickit.") for _, name in dumped)
    in_alloydb = []
    for kind, name in dumped:
        entry = rewrite.get((kind, name))
        assert entry is not None, f"{kind} {name} is in catalog.json but not in rewrite_report.json"
        for report in (rewrite, validation, loaded):
            step_entry = report.get((kind, name))
            if step_entry is not None and step_entry["status"] in GONE:
                assert step_entry.get("reason"), f"{kind} {name}: {step_entry['status']} without a reason"
                break
        else:
            target = entry["target_name"]
            assert loaded.get((kind, name), {}).get("status") == "applied", f"{kind} {name} was not loaded"
            assert query(dsn, "select to_regclass(%s) is not null", (target,)) == [(True,)], f"{target} missing"
            in_alloydb.append(name)
    assert "edge.sketches" in in_alloydb and "edge.spatial" in in_alloydb  # with their column changes reported:
    for table, source_type in (("edge.sketches", "HLLSKETCH"), ("edge.spatial", "GEOMETRY")):
        changes = rewrite[("table", table)]["changes"]
        assert rewrite[("table", table)]["status"] == "converted_with_changes"
        assert any(source_type in change.upper() for change in changes), changes


def test_every_routine_user_group_and_grant_is_accounted_for(moved):
    folder, dsn = moved
    catalog = folder.json(folder.layout.catalog_json)
    rewrite = entries(folder.json(folder.layout.rewrite_report_json))
    kinds = {"function": catalog["functions"], "procedure": catalog["procedures"]}
    routines = query(dsn, "select n.nspname || '.' || p.proname from pg_proc p join pg_namespace n "
                          "on n.oid = p.pronamespace where n.nspname in ('tickit', 'edge')")
    present = {name for (name,) in routines}
    for kind, items in kinds.items():
        for item in items:
            name = canonical_name(item["schema"], item["name"])
            matches = [e for (k, n), e in rewrite.items() if k == kind and n.split("(")[0] == name]
            assert matches, f"{kind} {name} is not in rewrite_report.json"
            if matches[0]["status"] in GONE:
                assert matches[0].get("reason"), f"{kind} {name}: no reason"
            else:
                assert name in present, f"{kind} {name} converted but not in AlloyDB"
    python_udfs = [e for (k, _), e in rewrite.items() if k == "function" and e["status"] == "unsupported"]
    assert python_udfs and all("Python UDF" in e["reason"] for e in python_udfs)
    # Without --grants, roles and grants are not written; each one says so.
    for kind in ("user", "group", "grant"):
        reported = [e for (k, _), e in rewrite.items() if k == kind]
        if kind != "grant":
            assert len(reported) == len(catalog[f"{kind}s"]) > 0
        assert all(e["status"] == "skipped" and "--grants" in e["reason"] for e in reported)


def test_long_and_colliding_names_get_distinct_short_names(moved):
    folder, dsn = moved
    name_map = folder.json(folder.layout.name_map_json)
    edge = [(t["source"]["name"], t["target"]["name"]) for t in name_map["tables"] if t["source"]["schema"] == "edge"]
    long_names = [(source, target) for source, target in edge if len(source.encode()) > 63]
    prefixes = [source.encode()[:63] for source, _ in long_names]
    assert len(prefixes) > len(set(prefixes))  # the sample has 100+-byte names that truncate to the same 63 bytes
    assert all(len(target.encode()) <= 63 for _, target in edge)
    assert len({target for _, target in edge}) == len(edge)
    tables = {name for (name,) in query(dsn, "select relname from pg_class c join pg_namespace n "
                                             "on n.oid = c.relnamespace where nspname = 'edge' and relkind = 'r'")}
    assert {target for _, target in long_names} <= tables


def test_identity_is_declared_as_in_redshift(moved):
    _, dsn = moved
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("select seqstart, seqincrement from pg_sequence s join pg_class c on c.oid = s.seqrelid "
                        "join pg_depend d on d.objid = c.oid join pg_class t on t.oid = d.refobjid "
                        "join pg_namespace n on n.oid = t.relnamespace "
                        "where n.nspname = 'edge' and t.relname = 'identity_cols'")
            assert cur.fetchall() == [(5, 10)]
    finally:
        conn.close()
