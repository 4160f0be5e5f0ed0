"""SHOW TABLE text in the layouts Redshift prints, read token by token: AWS's reference example (one line, no
`ENCODE raw`; https://docs.aws.amazon.com/redshift/latest/dg/r_SHOW_TABLE.html), the emulator's, and the layouts
real clusters print (`ENCODE raw`, `COLLATE case_sensitive`, `distkey` on a line of its own, `) DISTSTYLE` on
the closing line; quoted in ../shared/reviews/REDSHIFT_FACTCHECK.md §7)."""

from __future__ import annotations

import pytest

from steps.dump_schema.assemble import CatalogRows, Filters, Shows, build_catalog
from steps.dump_schema.showtext import ShownTable, read_show_table

AWS_CATEGORY = ("CREATE TABLE public.category ( catid smallint NOT NULL distkey, catgroup character varying(10) "
                "ENCODE lzo COLLATE case_sensitive, catname character varying(10) ENCODE lzo COLLATE "
                "case_sensitive, catdesc character varying(50) ENCODE lzo COLLATE case_sensitive ) DISTSTYLE KEY "
                "SORTKEY ( catid );")

CLUSTER_LAYOUT = """CREATE TABLE public.events (
    id bigint NOT NULL identity(1, 1) ENCODE raw,
    "Kind" character varying(20) ENCODE lzo COLLATE case_insensitive
    distkey
,
        note character varying(256) DEFAULT 'BACKUP NO'::character varying ENCODE lzo COLLATE case_sensitive,
    "backup no" integer ENCODE az64,
    PRIMARY KEY (id)
) BACKUP NO DISTSTYLE KEY
 INTERLEAVED SORTKEY
 (
 id
 );"""


@pytest.mark.parametrize(("text", "expected"), [
    (AWS_CATEGORY, ShownTable(True, {"catgroup": "case_sensitive", "catname": "case_sensitive",
                                     "catdesc": "case_sensitive"})),
    (CLUSTER_LAYOUT, ShownTable(False, {"Kind": "case_insensitive", "note": "case_sensitive"})),
    ("CREATE TABLE s.t (\n    a integer ENCODE az64,\n    b character(2) ENCODE lzo COLLATE ci\n)\nBACKUP NO\n"
     "DISTSTYLE AUTO;", ShownTable(False, {"b": "case_insensitive"})),
    # BACKUP NO only in a default, a quoted column name and a comment: the table is backed up
    ("CREATE TABLE s.t (\n    a character varying(9) DEFAULT 'x BACKUP NO' ENCODE lzo,\n    \"BACKUP NO\" integer\n)"
     "\n-- BACKUP NO\nDISTSTYLE EVEN;", ShownTable(True, {})),
    ("", ShownTable()),
    ("CREATE TABLE s.t (a varchar(3) DEFAULT 'unterminated", ShownTable()),
])
def test_read_show_table_in_every_layout(text, expected):
    assert read_show_table(text) == expected


def test_build_catalog_takes_backup_and_collation_from_the_show_text():
    rows = CatalogRows(version="PostgreSQL 8.0.2 Redshift", database="dev",
                       schemas=[(1, "public", "awsuser", None, None)],
                       relations=[(10, "public", "events", "r", "awsuser", 1, None, None)],
                       columns=[(10, 1, "id", "bigint", True, None, None),
                                (10, 2, "Kind", "character varying(20)", False, None, None),
                                (10, 3, "note", "character varying(256)", False, "'BACKUP NO'::character varying", None),
                                (10, 4, "backup no", "integer", False, None, None)])
    shows = Shows(tables={("public", "events"): CLUSTER_LAYOUT})
    catalog = build_catalog(rows, shows, Filters(), "run_1", "2026-01-01T00:00:00Z")
    [table] = catalog["tables"]
    assert table["backup"] is False
    assert {c["name"]: c["collation"] for c in table["columns"]} == {
        "id": None, "Kind": "case_insensitive", "note": "case_sensitive", "backup no": None}
