"""One run folder read by `r2a status`, the report, retry-failed's list and `r2a readiness`: they say the same about
every table (shared/runstate.py's rule), including a planned table whose result file is invalid, one not run, one a
schema step skipped, one load_schema could not create and one dropped in the source."""

from __future__ import annotations

import json
from typing import Any

from shared.errors import ObjectStoreError
from shared.identifiers import TableRef
from shared.objectstore import ObjectInfo, RunLayout
from shared.readiness import readiness
from shared.runstate import read_run_state
from steps.report.collect import collect, parse_inputs
from steps.report.core import unfinished_tables
from steps.report.tables import build_rows
from tests.report import sample
from tests.support.runfolder import url_of
from workflows.argo import run_status


class FolderStore:
    """The ObjectStore calls these readers make, over objects held in memory (url -> bytes)."""

    def __init__(self, objects: dict[str, bytes]):
        self.objects = objects

    def list(self, prefix_url: str) -> list[ObjectInfo]:
        return [ObjectInfo(url, len(data)) for url, data in sorted(self.objects.items()) if url.startswith(prefix_url)]

    def read_bytes(self, url: str) -> bytes:
        if url not in self.objects:
            raise ObjectStoreError(f"{url} does not exist")
        return self.objects[url]

    def read_many(self, urls: list[str], readers: int = 16):
        return [(url, self.objects.get(url)) for url in urls]

    def read_json(self, url: str) -> Any:
        return json.loads(self.read_bytes(url))

    def exists(self, url: str) -> bool:
        return url in self.objects


def run_folder() -> tuple[FolderStore, RunLayout]:
    """The report's sample run, plus a planned table with a result that breaks the schema (public.refunds), one
    whose result is not JSON (public.returns) and a table dropped in the source (public.legacy)."""
    layout = RunLayout(sample.RUN_ID, "bucket")
    documents = sample.documents()
    plan = documents["tables.json"]["tables"]
    for name in ("refunds", "returns"):
        plan.append(dict(plan[0], table=f"public.{name}", target=f"public.{name}",
                         source={"schema": "public", "name": name}, target_ref={"schema": "public", "name": name}))
    documents["results/public.refunds.json"] = dict(
        sample.table_result("public.refunds", "succeeded", 13, 14), rows_loaded=-1)
    documents["load_report.json"]["objects"].append(
        {"kind": "table", "name": "public.legacy", "target_name": "public.legacy", "status": "dropped_in_source",
         "kept": True, "change": "dropped_in_source", "reason": "no longer in the source; kept in AlloyDB"})
    objects = {url_of(layout, path): json.dumps(document).encode() for path, document in documents.items()}
    objects[layout.result(TableRef("public", "returns"))] = b'{"table": "public.returns", "status": "succ'
    return FolderStore(objects), layout


EXPECTED = {  # table -> (status, planned)
    "public.sales": ("succeeded", True),
    "public.customers": ("succeeded", True),
    "public.events": ("failed", True),
    "public.ghost": ("not_run", True),
    "public.refunds": ("failed", True),  # its result file breaks the schema
    "public.returns": ("failed", True),  # its result file is not JSON
    'public."Odd Name"': ("skipped", False),  # load_schema pre-data could not create it
    "public.bad_defaults": ("skipped", False),  # failed in validate_restore
    "public.geo_shapes": ("skipped", False),  # unsupported in rewrite_ddl
    "public.legacy": ("skipped", False),  # dropped in the source
}


def test_status_report_retry_list_and_readiness_agree_on_every_table():
    store, layout = run_folder()
    raw = collect(store, layout)

    report = [(row.table, row.status, row.planned) for row in build_rows(parse_inputs(raw))]
    status = [(row.table, row.status, row.planned) for row in run_status(store, layout)]
    assert report == [(table, *state) for table, state in EXPECTED.items()]
    assert status == report

    assert unfinished_tables(raw) == [table for table, status, planned in report
                                      if planned and status in ("failed", "not_run")]
    judged = readiness(store, layout).tables
    assert [t.table for t in judged] == [table for table, _, planned in report if planned] + ['public."Odd Name"']
    assert [t.table for t in judged if t.in_sync] == []  # no result was verified by checksum
    reasons = {t.table: t.reason for t in judged}
    assert reasons["public.refunds"].startswith("failed: invalid result file results/public.refunds.json: ")
    assert reasons["public.returns"].startswith("failed: invalid result file results/public.returns.json: not valid")


def test_status_shows_why_a_table_has_no_result_and_counts_only_planned_tables():
    store, layout = run_folder()
    rows = {row.table: row for row in run_status(store, layout)}
    assert rows["public.refunds"].error.startswith("invalid result file results/public.refunds.json: ")
    assert rows["public.geo_shapes"].error == "unsupported in rewrite_ddl: column shape: GEOGRAPHY is not supported"
    assert rows["public.legacy"].error == "no longer in the source; kept in AlloyDB"
    assert rows["public.ghost"].error == ""  # not run yet: it may still be running
    assert not read_run_state(store, layout).all_planned_succeeded

    succeeded = sample.documents()
    plan = succeeded["tables.json"]["tables"]
    succeeded["tables.json"]["tables"] = [e for e in plan if e["table"] in ("public.sales", "public.customers")]
    store = FolderStore({url_of(layout, path): json.dumps(doc).encode() for path, doc in succeeded.items()})
    state = read_run_state(store, layout)
    assert state.all_planned_succeeded  # the skipped tables outside the plan do not fail the run, as in the report
    assert {t.status for t in state.tables if not t.planned} == {"skipped", "failed"}  # events: a result outside
