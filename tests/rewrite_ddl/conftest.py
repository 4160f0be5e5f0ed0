"""Helpers for rewrite_ddl tests: catalogs built in code, rewrite output applied to a real PostgreSQL."""

from __future__ import annotations

import copy

import psycopg2
import pytest

from shared.documents.catalog import catalog_from_dict
from shared.log import one_line
from shared.sqlblocks import parse
from steps.rewrite_ddl.core import RewriteFiles, render_files
from steps.rewrite_ddl.overrides import Overrides
from steps.rewrite_ddl.tables import Options
from tests.rewrite_ddl.ddl_corpus import corpus_catalog

APPLY_ORDER = ("compat.sql", "pre_data.sql", "views.sql", "post_data.sql")


def column(name: str, type_: str, **extra) -> dict:
    return {"name": name, "type": type_, **extra}


def table(schema: str, name: str, *columns: dict, **extra) -> dict:
    return {"schema": schema, "name": name, "columns": list(columns), **extra}


def catalog(run_id: str = "test_20260101_000000", **sections) -> dict:
    data = {"format_version": 1, "run_id": run_id, "schemas": [], "tables": [], "views": [], "functions": [],
            "procedures": [], "users": [], "groups": [], "grants": []}
    data.update(sections)
    names = {s["name"] for s in data["schemas"]}
    for kind in ("tables", "views", "functions", "procedures"):
        for obj in data[kind]:
            if obj["schema"] not in names:
                names.add(obj["schema"])
                data["schemas"].append({"name": obj["schema"]})
    return data


def rewrite(data: dict, overrides: Overrides | None = None, **options) -> RewriteFiles:
    return render_files(catalog_from_dict(copy.deepcopy(data)), overrides or Overrides(), Options(**options))


def report_entry(files: RewriteFiles, kind: str, name: str) -> dict:
    import json

    entries = [o for o in json.loads(files.files["rewrite_report.json"])["objects"]
               if o["kind"] == kind and o["name"] == name]
    assert len(entries) == 1, f"{kind} {name}: {len(entries)} report entries"
    return entries[0]


def apply_all(dsn: str, files: RewriteFiles, order=APPLY_ORDER) -> list[tuple[str, str, str]]:
    """Apply every block in order, each in its own transaction; returns (file, name, error) of failures.
    Unsupported objects (comment-only blocks) are left out."""
    failures = []
    conn = psycopg2.connect(dsn)
    try:
        for filename in order:
            for obj in parse(files.files[filename], filename):
                if dict(obj.extra).get("status") == "unsupported":
                    continue
                with conn.cursor() as cur:
                    try:
                        cur.execute(obj.sql)
                        conn.commit()
                    except psycopg2.Error as exc:
                        conn.rollback()
                        failures.append((filename, obj.name, one_line(exc, 300)))
    finally:
        conn.close()
    return failures


@pytest.fixture(scope="session")
def corpus() -> dict:
    return corpus_catalog()


@pytest.fixture
def run_folder(devstack_environ):
    """A new run id whose folder lives in the devstack GCS emulator: (run_id, store, layout, environ)."""
    import uuid

    from shared.config import load_settings
    from shared.objectstore import ObjectStore, RunLayout

    run_id = f"rewrite_{uuid.uuid4().hex[:12]}"
    settings = load_settings(devstack_environ)
    return run_id, ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs), \
        dict(devstack_environ)
