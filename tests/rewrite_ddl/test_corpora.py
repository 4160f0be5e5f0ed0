"""The real-world Redshift DDL corpora (Snowplow iglu-central, TPC-H, TPC-DS) go through rewrite_ddl and the
output is valid PostgreSQL: every block applies to a fresh PostgreSQL 16 database."""

from __future__ import annotations

import json

import psycopg2

from shared.identifiers import PG_MAX_IDENTIFIER_BYTES
from tests.rewrite_ddl.conftest import apply_all, rewrite
from tests.rewrite_ddl.ddl_corpus import CORPORA


def test_corpus_catalog_has_every_table(corpus):
    iglu_files = [p for p in (CORPORA / "iglu-central").glob("*.sql")]
    schemas = {t["schema"] for t in corpus["tables"]}
    assert schemas == {"atomic", "tpch", "tpcds"}
    # one table per iglu file, except the mailchimp unsubscribe table defined twice
    assert sum(t["schema"] == "atomic" for t in corpus["tables"]) == len(iglu_files) - 1
    assert sum(t["schema"] == "tpch" for t in corpus["tables"]) == 8
    assert sum(t["schema"] == "tpcds" for t in corpus["tables"]) == 25


def test_corpora_rewrite_applies_to_postgresql(corpus, fresh_db):
    files = rewrite(corpus, sortkey_indexes=True)
    failures = apply_all(fresh_db, files)
    assert failures == []
    name_map = json.loads(files.files["name_map.json"])
    conn = psycopg2.connect(fresh_db)
    try:
        with conn.cursor() as cur:
            cur.execute("""SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE c.relkind = 'r' AND n.nspname IN ('atomic', 'tpch', 'tpcds')""")
            created = set(cur.fetchall())
            cur.execute("""SELECT count(*) FROM pg_constraint WHERE contype = 'f'""")
            foreign_keys = cur.fetchone()[0]
    finally:
        conn.close()
    mapped = {(t["target"]["schema"], t["target"]["name"]) for t in name_map["tables"]}
    assert created == mapped
    assert len(created) == len(corpus["tables"])
    # every iglu table references atomic.events
    assert foreign_keys == sum(t["schema"] == "atomic" for t in corpus["tables"]) - 1


def test_long_corpus_names_are_unique_and_short(corpus):
    files = rewrite(corpus)
    name_map = json.loads(files.files["name_map.json"])
    long_names = [t for t in name_map["tables"] if len(t["source"]["name"].encode()) > PG_MAX_IDENTIFIER_BYTES]
    assert len(long_names) == 6
    targets = [(t["target"]["schema"], t["target"]["name"]) for t in name_map["tables"]]
    assert len(set(targets)) == len(targets)
    assert all(len(name.encode()) <= PG_MAX_IDENTIFIER_BYTES for _, name in targets)
    for entry in long_names:
        assert entry["target"]["name"] != entry["source"]["name"]
        assert entry["target"]["name"][:40] == entry["source"]["name"][:40]


def test_corpus_report_lists_every_table_and_the_redshift_only_attributes(corpus):
    files = rewrite(corpus)
    report = json.loads(files.files["rewrite_report.json"])
    tables = {o["name"]: o for o in report["objects"] if o["kind"] == "table"}
    assert len(tables) == len(corpus["tables"])
    events = tables["atomic.events"]
    assert events["status"] == "converted_with_changes"
    assert "dropped DISTSTYLE KEY" in events["changes"]
    assert "dropped DISTKEY (event_id)" in events["changes"]
    assert "dropped SORTKEY (collector_tstamp)" in events["changes"]
    assert any(c.startswith("dropped ENCODE on ") for c in events["changes"])
    assert sum(report["counts"].values()) == len(report["objects"])
