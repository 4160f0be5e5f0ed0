"""post-data, after the transfers: constraints, indexes, views and materialized views, identity reseed, ANALYZE.

Keys, indexes and ANALYZE run in `index_jobs` sessions (the first is the step's own, which holds the run's locks;
the others are opened here); the order and what may run together are shared/postdata_jobs.py's. Every object's
and every ANALYZE's times go to `timings`, sorted by start.

The objects are applied by shared/postdata.py. Keys and indexes of a table whose transfer has not succeeded are
not applied but reported "deferred" (shared/finishing.py): that table's transfer applies them, reseeds and
ANALYZEs it when it succeeds later, whichever way it is retried. Reseed and ANALYZE here cover the loaded tables.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions

from shared.finishing import deferred_report, waits_for
from shared.identifiers import TableRef
from shared.log import event, one_line
from shared.objects_report import ObjectReport
from shared.postdata import analyze, apply_objects, reseed_identities
from shared.postdata_jobs import Timing
from shared.sqlapply import SavepointApplier
from shared.sqlblocks import SqlObject
from shared.staging import drop_leftovers


@dataclass
class PostDataResult:
    objects: list[ObjectReport] = field(default_factory=list)
    analyzed: int = 0
    analyze_failures: list[dict[str, str]] = field(default_factory=list)
    # Staging tables of staged loads that a killed transfer left: {"staging_table", "target"}; or the error.
    staging_dropped: list[dict[str, str]] = field(default_factory=list)
    staging_cleanup_error: str | None = None
    deferred_tables: list[str] = field(default_factory=list)  # Redshift names of the tables not loaded yet
    timings: list[Timing] = field(default_factory=list)


def apply_post_data(conn: psycopg2.extensions.connection, objects: Sequence[SqlObject],
                    tables: Sequence[TableRef], missing: Mapping[str, str] | None = None,
                    unloaded: Mapping[str, TableRef] | None = None, index_jobs: int = 1,
                    connect: Callable[[], psycopg2.extensions.connection] | None = None) -> PostDataResult:
    """`missing`: pre-data objects that are not in AlloyDB (name -> why); what depends on them is skipped.
    `unloaded`: planned tables whose transfer has not succeeded (Redshift name -> AlloyDB table).
    `connect`: opens one more session like `conn` (needed when index_jobs > 1)."""
    helpers: list[psycopg2.extensions.connection] = []
    try:
        while connect is not None and len(helpers) < index_jobs - 1:
            helpers.append(connect())
        return _apply(conn, helpers, objects, tables, missing or {}, unloaded or {})
    finally:
        for helper in helpers:
            helper.close()


def _apply(conn: psycopg2.extensions.connection, helpers: list[psycopg2.extensions.connection],
           objects: Sequence[SqlObject], tables: Sequence[TableRef], missing: Mapping[str, str],
           unloaded: Mapping[str, TableRef]) -> PostDataResult:
    appliers = [SavepointApplier(c, commit_every=1, system="AlloyDB") for c in [conn, *helpers]]
    applier = appliers[0]
    result = PostDataResult(deferred_tables=sorted(unloaded))
    timings: dict[Hashable, Timing] = {}
    deferred = {id(obj): tables_waited for obj in objects
                if (tables_waited := waits_for(obj, unloaded))
                and not any(d in missing for d in obj.depends_on)}
    outcomes = iter(apply_objects(appliers, [obj for obj in objects if id(obj) not in deferred], missing, timings))
    result.objects.extend(deferred_report(obj, deferred[id(obj)]) if id(obj) in deferred else next(outcomes)
                          for obj in objects)
    waiting = set(unloaded.values())
    loaded = [table for table in tables if table not in waiting]
    result.objects.extend(reseed_identities(applier, loaded))
    applier.commit()
    result.analyzed, result.analyze_failures = analyze([conn, *helpers], loaded, timings)
    result.timings = sorted(timings.values(), key=lambda t: (t.started_at, t.session))
    drop_leftover_staging(conn, tables, result)
    return result


def drop_leftover_staging(conn: psycopg2.extensions.connection, tables: Sequence[TableRef],
                          result: PostDataResult) -> None:
    """post-data runs once every transfer of the run has ended, so a shadow table or a ledger of a planned target
    that no attempt can resume was left by a killed transfer: up to a whole table of rows nobody will read."""
    try:
        with conn.cursor() as cur:
            dropped = drop_leftovers(cur, [str(table) for table in tables])
        conn.commit()
    except psycopg2.Error as exc:
        conn.rollback()
        result.staging_cleanup_error = one_line(exc, 300)
        event("staging.cleanup_failed", error=result.staging_cleanup_error)
        return
    for name, target in dropped:
        staging = name
        event("staging.dropped", table=target, staging=staging, why="left by a killed transfer")
        result.staging_dropped.append({"staging_table": staging, "target": target})
