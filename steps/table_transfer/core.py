"""One table, end to end: unload ∥ copy ∥ load → verify → cleanup, and its result file in every outcome.

Every run of a table is a new attempt with its own S3 prefix and GCS staging folder (attempt-NNN), numbered
after the attempts recorded in the table's result file and the attempt folders already in S3, so files of an
earlier (crashed) attempt can never be loaded by a later one. Unload, copy and load overlap (pipeline.py): a part
is copied as soon as Redshift has written it and loaded as soon as it is in GCS.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, replace

from shared import stepnames
from shared.config import Settings
from shared.connections import alloydb_connection, redshift_connection
from shared.errors import BadInputError, BadStateError
from shared.finishing import finish_table, finishing_session
from shared.identifiers import TableRef
from shared.log import event, redact, table_context
from shared.objectstore import ObjectStore, RunLayout
from shared.results import (
    Attempt,
    ErrorInfo,
    PhaseClock,
    PhaseTiming,
    TableResult,
    table_result_from_dict,
    to_dict,
    utc_now,
)
from shared.retry import DEFAULT_POLICY, RetryPolicy, retry_call
from shared.runlock import exclusive
from steps.table_transfer.background import BackgroundUnload
from steps.table_transfer.load import PartFeed, UpstreamFailed, copy_statement, load_direct, load_staged
from steps.table_transfer.pipeline import PART_POLL_S, CopyStage, follow_unload
from steps.table_transfer.plan import TableSpec, TransferOptions
from steps.table_transfer.source_state import count_now
from steps.table_transfer.unload import authorization_clause, select_statement, unload_statement
from steps.table_transfer.verify import check_checksums, check_counts, checksum_aggregates, target_aggregates

STEP = stepnames.TABLE_TRANSFER
_ATTEMPT_FOLDER = re.compile(r"/attempt-(\d+)/")


@dataclass
class TransferContext:
    run_id: str
    settings: Settings
    store: ObjectStore
    layout: RunLayout
    options: TransferOptions


def _previous_result(ctx: TransferContext, source: TableRef) -> TableResult | None:
    url = ctx.layout.result(source)
    if not ctx.store.exists(url):
        return None
    try:
        return table_result_from_dict(ctx.store.read_json(url))
    except (BadInputError, TypeError, KeyError):
        return None  # an unreadable old record does not stop a new attempt; it is replaced


def _claims_prefix(ctx: TransferContext, source: TableRef) -> str:
    return ctx.layout.artifact(f"claims/{source.file_stem()}/")


def next_attempt(ctx: TransferContext, source: TableRef, previous: TableResult | None) -> int:
    """One more than any attempt recorded, unloaded to S3 or claimed. A claim is written before the UNLOAD: an
    UNLOAD of a killed attempt can still be writing into its S3 folder after a re-run has listed it empty."""
    numbers = [a.number for a in previous.attempts] if previous else []
    table_prefix = ctx.layout.unload_table_prefix(source)
    numbers += [int(m.group(1)) for info in ctx.store.list(table_prefix)
                if (m := _ATTEMPT_FOLDER.search(info.url[len(table_prefix) - 1:]))]
    claims = _claims_prefix(ctx, source)
    numbers += [int(m.group(1)) for info in ctx.store.list(claims)
                if (m := re.search(r"attempt-(\d+)$", info.url))]
    return max(numbers, default=0) + 1


def claim_attempt(ctx: TransferContext, source: TableRef, number: int) -> None:
    ctx.store.write_json(_claims_prefix(ctx, source) + f"attempt-{number:03d}",
                         {"run_id": ctx.run_id, "table": str(source), "attempt": number, "claimed_at": utc_now()})


def failed_result(ctx: TransferContext, source: TableRef, error: BaseException, target: str | None = None
                  ) -> TableResult:
    """A result for a table that could not even start (not in the plan, bad plan entry)."""
    now = utc_now()
    info = ErrorInfo.from_exception(error)
    return TableResult(ctx.run_id, str(source), target or str(source), "failed", now, now, 0.0,
                       attempts=[Attempt(1, now, now, "failed", info)], error=info)


def write_result(ctx: TransferContext, source: TableRef, result: TableResult) -> None:
    ctx.store.write_json(ctx.layout.result(source), to_dict(result))


def transfer_table(ctx: TransferContext, spec: TableSpec) -> TableResult:
    """Move one table; the result file is written whatever happens (then the error, if any, is recorded) — except
    when another process is moving the same table of the same run: that one owns the result file. Logs what the
    table cost this process (`table.cost`: wall and CPU seconds, the lock and finishing included), the figure
    fanout_bench sums up per table."""
    wall, cpu = time.monotonic(), time.process_time()
    try:
        with exclusive(ctx.settings, STEP, ctx.run_id, f"table_transfer of {spec.source}"):
            return _transfer_table(ctx, spec)
    except BadStateError as refused:
        event("table.refused", table=str(spec.source), error=str(refused))
        now = utc_now()
        return TableResult(ctx.run_id, str(spec.source), str(spec.target), "failed", now, now, 0.0,
                           error=ErrorInfo.from_exception(refused))
    finally:
        event("table.cost", table=str(spec.source), wall_s=round(time.monotonic() - wall, 3),
              cpu_s=round(time.process_time() - cpu, 3))


def _transfer_table(ctx: TransferContext, spec: TableSpec) -> TableResult:
    previous = _previous_result(ctx, spec.source)
    result = TableResult(ctx.run_id, str(spec.source), str(spec.target), "failed", utc_now())
    result.attempts = list(previous.attempts) if previous else []
    attempt = Attempt(next_attempt(ctx, spec.source, previous), result.started_at)
    result.attempts.append(attempt)
    started = time.monotonic()
    try:
        with table_context(str(spec.source)):
            claim_attempt(ctx, spec.source, attempt.number)
            event("table.started", attempt=attempt.number)
            _transfer(ctx, spec, attempt.number, result)
        result.status = attempt.status = "succeeded"
    except BaseException as exc:  # recorded, then re-raised if it is not an ordinary failure (SIGTERM, ^C)
        error = exc.error if isinstance(exc, UpstreamFailed) else exc
        result.error = attempt.error = ErrorInfo.from_exception(error)
        attempt.status = "failed"
        if not isinstance(exc, Exception):
            _finish(ctx, spec, result, attempt, started)
            raise
    if result.status == "succeeded":
        _finish_loaded(ctx, spec, result, attempt, started)
    else:
        _finish(ctx, spec, result, attempt, started)
    return result


# The rows are committed when finishing starts: waiting out an AlloyDB restart (about 50 s in all) is cheaper than
# reloading the table.
FINISHING_RETRY = RetryPolicy(attempts=8, initial_s=0.5, max_s=20.0)


def _finish_loaded(ctx: TransferContext, spec: TableSpec, result: TableResult, attempt: Attempt,
                   started: float) -> None:
    """A loaded table's finishing work when post-data has already run (shared/finishing.py), then its result,
    both under the run's finishing lock, retried like any AlloyDB call: the rows are committed and verified by now,
    so a connection lost here (AlloyDB restarting) must not turn a loaded table into a failed one. What still fails
    fails the table (the rows stay; a new attempt reloads and finishes it)."""
    try:
        retry_call(_finish_under_lock, ctx, spec, result, attempt, started, policy=FINISHING_RETRY,
                   what="finishing of a loaded table")
    except BaseException as exc:
        result.status = attempt.status = "failed"
        result.error = attempt.error = ErrorInfo.from_exception(exc)
        _finish(ctx, spec, result, attempt, started)
        if not isinstance(exc, Exception):
            raise


def _finish_under_lock(ctx: TransferContext, spec: TableSpec, result: TableResult, attempt: Attempt,
                       started: float) -> None:
    with finishing_session(ctx.settings, STEP, ctx.run_id) as conn:
        began, clock = utc_now(), time.monotonic()
        try:
            record = finish_table(conn, ctx.store, ctx.layout, spec.source, spec.target)
        except BaseException:
            result.phases.append(PhaseTiming("finish", began, utc_now(), round(time.monotonic() - clock, 3),
                                             "failed"))
            raise
        if record is not None:
            result.phases.append(PhaseTiming("finish", began, utc_now(), round(time.monotonic() - clock, 3)))
            event("table.finished_after_post_data", objects=len(record["objects"]),
                  analyzed=record["analyzed"], refreshed=len(record["materialized_views_refreshed"]))
        _finish(ctx, spec, result, attempt, started)


def _finish(ctx: TransferContext, spec: TableSpec, result: TableResult, attempt: Attempt, started: float) -> None:
    result.finished_at = attempt.finished_at = utc_now()
    result.duration_s = round(time.monotonic() - started, 3)
    write_result(ctx, spec.source, result)
    event("table.finished", table=str(spec.source), status=result.status, rows=result.rows_loaded,
          duration_s=result.duration_s, error=result.error.message if result.error else None)


def _transfer(ctx: TransferContext, spec: TableSpec, attempt: int, result: TableResult) -> None:
    options, settings = ctx.options, ctx.settings
    clock = PhaseClock(result.phases)
    prefix = ctx.layout.unload_prefix(spec.source, attempt)
    aggregates = checksum_aggregates(spec) if options.verify == "checksum" else []
    unload = BackgroundUnload(settings, ctx.store, spec, options, prefix, authorization_clause(settings), aggregates)
    result.phases.append(unload.timing)

    def verifier(cur, table, rows_loaded: int) -> None:
        source = unload.outcome()  # complete: the feed ended only after the manifest was read
        with clock.phase("verify"):
            check_counts(str(spec.source), source.source_rows, source.manifest.record_count, rows_loaded)
            if aggregates:
                query, names = target_aggregates(spec, aggregates, table)
                cur.execute(query)
                values = cur.fetchone()
                check_counts(str(spec.source), source.source_rows, source.manifest.record_count, int(values[0]))
                result.checksum_match = False
                check_checksums(str(spec.source), source.source_checks, dict(zip(names, values[1:], strict=True)))
                result.checksum_match = True

    try:
        outcome = _unload_copy_and_load(ctx, spec, attempt, unload, result, clock, verifier)
    finally:
        _record_unload(result, unload)
    result.rows_loaded, result.bytes_raw = outcome.rows_loaded, outcome.bytes_raw
    event("phase.finished", phase="load", rows=outcome.rows_loaded, bytes_raw=outcome.bytes_raw,
          strategy=outcome.strategy, copy_busy_s=round(outcome.busy_s, 3))
    result.rows_source_after = count_now(settings, spec)
    if result.rows_source_after is not None and result.rows_source_after != result.rows_source:
        event("source.changed", rows_unloaded=result.rows_source, rows_now=result.rows_source_after)
    if options.cleanup:  # only after verification: a failed table keeps every part for the retry to look at
        with clock.phase("cleanup"):
            if "s3" in options.cleanup:  # earlier failed attempts' parts too: they are of no use once one succeeded
                ctx.store.delete_prefix(ctx.layout.unload_table_prefix(spec.source))
            if "gcs" in options.cleanup:
                ctx.store.delete_prefix(ctx.layout.staging_table_prefix(spec.source))


def _record_unload(result: TableResult, unload: BackgroundUnload) -> None:
    if not unload.done:
        return
    try:
        source = unload.outcome()
    except BaseException:
        return
    result.rows_source, result.rows_unloaded = source.source_rows, source.manifest.record_count
    result.parts, result.bytes_compressed = len(source.manifest.parts), source.manifest.bytes_compressed


def _unload_copy_and_load(ctx: TransferContext, spec: TableSpec, attempt: int, unload: BackgroundUnload,
                          result: TableResult, clock: PhaseClock, verifier):
    options, settings = ctx.options, ctx.settings
    lock = threading.Lock()
    current = result.attempts[-1]

    def count_retry(_number: int, _error: BaseException) -> None:
        with lock:
            current.retries += 1

    policy = replace(DEFAULT_POLICY, on_retry=count_retry)
    feed = PartFeed()
    copies = CopyStage(settings.s3, settings.gcs, ctx.layout.staging_prefix(spec.source, attempt), feed,
                       options.parallel_parts, policy)
    result.phases.append(copies.timing)
    follower = threading.Thread(target=follow_unload, args=(ctx.store, unload, copies), name="follow-unload",
                                daemon=True)
    unload.start()
    follower.start()
    failed = True
    try:
        def connect():
            return alloydb_connection(settings, STEP)

        with clock.phase("load"):
            if options.load_sessions > 1:
                outcome = load_staged(connect, ctx.store, spec, options, feed, verifier, attempt, policy=policy)
            else:
                outcome = load_direct(connect, ctx.store, spec, options, feed, verifier, policy=policy)
        failed = False
        return outcome
    finally:
        if failed:
            unload.stop("the load ended first")
        follower.join(PART_POLL_S * 5)
        copies.close(cancel=failed)


def transfer_tables(ctx: TransferContext, specs: list[TableSpec]) -> list[TableResult]:
    return [transfer_table(ctx, spec) for spec in specs]


def dry_run_plan(ctx: TransferContext, spec: TableSpec) -> dict:
    """What a run would do, with nothing changed: statements (credentials masked), folders, source count."""
    previous = _previous_result(ctx, spec.source)
    attempt = next_attempt(ctx, spec.source, previous)
    prefix = ctx.layout.unload_prefix(spec.source, attempt)
    authorization = authorization_clause(ctx.settings)
    with redshift_connection(ctx.settings, STEP) as conn:
        unload_text = unload_statement(conn, spec, ctx.options, prefix, authorization).as_string(conn)
        select_text = select_statement(spec).as_string(conn)
        conn.rollback()
    plan = {"table": str(spec.source), "target": str(spec.target), "attempt": attempt, "unload_prefix": prefix,
            "staging_prefix": ctx.layout.staging_prefix(spec.source, attempt), "select": select_text,
            "unload": redact(unload_text), "result": ctx.layout.result(spec.source),
            "load": "staged" if ctx.options.load_sessions > 1 else "direct"}
    target = alloydb_connection(ctx.settings, STEP)
    try:
        plan["copy"] = copy_statement(spec, ctx.options).as_string(target)
    finally:
        target.close()
    return plan


def render_plan(plans: list[dict]) -> str:
    return json.dumps(plans, indent=2, ensure_ascii=False)

