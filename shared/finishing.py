"""A table's finishing work when its data arrives after post-data ran: its keys and indexes, identity reseed,
ANALYZE and the refresh of the materialized views built on it.

Every route that loads a table again runs its table_transfer and nothing else of the first run: `r2a retry-failed`
(list-unfinished → table-transfer → report), `argo retry` (only the failed nodes; post-data had Succeeded) and a
resubmit (the whole DAG again, with post-data's report of the first run already in the run folder). So the
transfer is where the finishing work cannot be skipped, and it does it itself once post-data's report exists.

post-data applies the keys and indexes only of tables whose transfer succeeded. Those of the other tables are
written to post_data_report.json as "deferred", with the tables each waits for, and those tables are listed in
`deferred_tables`: created on an empty table, a key the source rows violate would make the table's retried COPY
fail for ever, and a clean foreign key would stay NOT VALID. When one of these tables is loaded, `finish_table`
applies the deferred objects whose tables are all loaded now, with post-data's own code (shared/postdata.py: a
violated key is reported and not created), then reseeds, ANALYZEs and refreshes, and rewrites the report's entries
so that they read as a clean run's, plus one `finished_after_post_data` record saying what was done.

post-data holds the run's finishing lock from reading the table results until its report is written; a transfer
holds it from looking for that report until its own result is written. So a table that succeeds while post-data
runs is either seen as loaded by post-data or finds the report and finishes itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg2.extensions

from shared.applyengine import left_not_there
from shared.config import Settings
from shared.connections import alloydb_connection
from shared.ddlsession import R2A_SCHEMAS, pin_ddl_session, require_own_schema
from shared.documents.objects import ObjectsReport
from shared.errors import BadInputError, BadStateError
from shared.identifiers import TableRef
from shared.layout import validated_sql_name
from shared.objects_report import ObjectReport, note_created
from shared.objectstore import ObjectStore, RunLayout
from shared.results import utc_now
from shared.runlock import lock_key
from shared.sqlapply import SavepointApplier, has_statement
from shared.sqlblocks import SqlObject, parse

DEFERRED = "deferred"
DEFERRABLE_KINDS = ("constraint", "index")  # what a table's data decides or makes slow to load
FINISHING_SCOPE = "post-data finishing"
VALIDATED_POST_DATA = validated_sql_name("post-data")
POST_DATA_RECORD = "load_schema_post_data"  # the step result load_schema's post-data writes

# shared.constraints, shared.postdata and shared.sqlcheck (sqlglot, pglast: 0.13 CPU s of imports, most of a
# table-transfer step's own start-up; fanout_bench) are imported where they are used: every table-transfer pod
# imports this module, and only a table loaded after post-data ran needs them.


def waits_for(obj: SqlObject, unloaded: Mapping[str, TableRef]) -> list[str]:
    """The not yet loaded tables (Redshift names; `unloaded` maps them to their AlloyDB tables) a key or index is
    on or refers to, from its depends_on and from the tables its statement names; empty: apply it now."""
    if obj.kind not in DEFERRABLE_KINDS or not unloaded:
        return []
    from shared.constraints import statement_tables

    named = statement_tables(obj)
    return sorted({source for source, target in unloaded.items() if source in obj.depends_on or target in named})


def deferred_report(obj: SqlObject, tables: list[str]) -> ObjectReport:
    return ObjectReport.of(obj, DEFERRED, f"waits for the load of {', '.join(tables)}", waits_for=tables)


def take_finishing_lock(conn: psycopg2.extensions.connection, run_id: str) -> None:
    """Wait for the run's finishing lock and keep it for the session (a killed process releases it at once)."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", (lock_key(run_id, FINISHING_SCOPE),))
    if not conn.autocommit:
        conn.commit()


@contextmanager
def finishing_session(settings: Settings, step: str, run_id: str) -> Iterator[psycopg2.extensions.connection]:
    conn = alloydb_connection(settings, step, autocommit=True)
    try:
        pin_ddl_session(conn)  # the deferred objects are DDL: names resolve as in load_schema's sessions
        for schema in R2A_SCHEMAS:
            require_own_schema(conn, schema)
        take_finishing_lock(conn, run_id)
        yield conn
    finally:
        conn.close()


def finish_table(conn: psycopg2.extensions.connection, store: ObjectStore, layout: RunLayout, source: TableRef,
                 target: TableRef) -> dict[str, Any] | None:
    """The finishing work of a table just loaded, when post-data has run for this run (else None: post-data will
    do it). Call it holding the finishing lock. Returns the `finished_after_post_data` record it added."""
    url = layout.post_data_report_json
    if not store.exists(url):
        return None
    from shared.postdata import analyze, refresh_dependent_matviews, reseed_identities

    try:  # edited as JSON below: deferred entries are replaced in place by their outcomes
        report = ObjectsReport.read(store, url).to_json()
    except BadInputError as exc:
        raise BadStateError(exc.reason, "Run load_schema --section post-data for this run again") from None
    name = str(source)
    was_deferred = name in (report.get("deferred_tables") or [])
    still = set(report.get("deferred_tables") or []) - {name}
    entries: list[Any] = report["objects"]
    ready = [i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("status") == DEFERRED
             and not set(e.get("waits_for") or []) & still]
    applier = SavepointApplier(conn, commit_every=1, system="AlloyDB")
    applied = _apply_ready(applier, store, layout, entries, ready)
    sequences = reseed_identities(applier, [target])
    applier.commit()
    analyzed, failures = analyze(conn, [target])
    refreshed = refresh_dependent_matviews(applier, target)
    applier.commit()
    _replace_sequences(entries, sequences)
    if was_deferred:
        report["analyzed"] = int(report.get("analyzed") or 0) + analyzed
    report["analyze_failures"] = [f for f in report.get("analyze_failures") or [] if f.get("table") != str(target)]
    report["analyze_failures"] += failures
    report["deferred_tables"] = sorted(still)
    report["counts"] = dict(sorted(Counter(e.get("status") for e in entries if isinstance(e, dict)).items()))
    record = {"table": name, "target": str(target), "finished_at": utc_now(),
              "objects": [{"kind": e["kind"], "name": e["name"], "status": e["status"]} for e in applied],
              "sequences": [s.to_json() for s in sequences], "analyzed": analyzed == 1,
              "materialized_views_refreshed": refreshed}
    report.setdefault("finished_after_post_data", []).append(record)
    store.write_json(url, ObjectsReport.from_json(report, url).to_json())
    _update_step_record(store, layout, report["counts"])
    return record


def _apply_ready(applier: SavepointApplier, store: ObjectStore, layout: RunLayout, entries: list[Any],
                 ready: list[int]) -> list[dict[str, Any]]:
    """Apply the deferred entries at `ready` and put their outcomes in their place."""
    if not ready:
        return []
    from shared.postdata import apply_objects
    from shared.sqlcheck import refusal

    objects = {(o.kind, o.name): o for o in parse(store.read_text(layout.validated_sql("post-data")),
                                                  VALIDATED_POST_DATA)}
    todo = []
    for index in ready:
        obj = objects.get((entries[index]["kind"], entries[index]["name"]))
        refused = refusal(obj) if obj is not None and has_statement(obj) else None
        if obj is None or refused:
            entry = {k: v for k, v in entries[index].items() if k != "waits_for"}
            why = f"not in {VALIDATED_POST_DATA} any more" if obj is None else f"{VALIDATED_POST_DATA}: {refused}"
            entries[index] = {**entry, "status": "failed", "reason": why}
        else:
            todo.append((index, obj))
    noting_changes = any(isinstance(e, dict) and "change" in e for e in entries)  # post-data ran as a refresh
    # what post-data could not create holds back what depends on it here too, with the same chain of reasons
    earlier = [(objects[key], ObjectReport.of(objects[key], e["status"], e.get("reason")))
               for e in entries if isinstance(e, dict) and (key := (e.get("kind"), e.get("name"))) in objects]
    decided = [(obj, report) for obj, report in earlier if left_not_there(report)]
    outcomes = apply_objects(applier, [obj for _, obj in todo], decided=decided)
    for (index, _), outcome in zip(todo, outcomes, strict=True):
        entries[index] = (note_created(outcome) if noting_changes else outcome).to_json()
    return [entries[index] for index in ready]


def _replace_sequences(entries: list[Any], sequences: list[ObjectReport]) -> None:
    names = {s.name for s in sequences}
    entries[:] = [e for e in entries if not (isinstance(e, dict) and e.get("kind") == "sequence"
                                            and e.get("name") in names)]
    entries.extend(s.to_json() for s in sequences)


def _update_step_record(store: ObjectStore, layout: RunLayout, counts: dict[str, int]) -> None:
    """post-data's step result carries the report's counts; keep them equal."""
    url = layout.step_result(POST_DATA_RECORD)
    if not store.exists(url):
        return
    record = store.read_json(url)
    if not isinstance(record, dict) or record.get("status") not in ("succeeded", "partial"):
        return
    record["counts"] = counts
    record["status"] = "succeeded" if set(counts) <= {"applied"} else "partial"
    store.write_json(url, record)
