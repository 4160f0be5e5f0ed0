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

import psycopg2

from shared import stepnames
from shared.config import Settings
from shared.connections import alloydb_connection, redshift_connection
from shared.documents.claim import Claim
from shared.errors import BadInputError, BadStateError
from shared.finishing import finish_table, finishing_session
from shared.identifiers import TableRef
from shared.log import event, json_for_lines, redact, table_context
from shared.objectstore import ObjectStore, RunLayout
from shared.partledger import committed_parts, load_exists, mark_unloaded
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
from shared.retry import DEFAULT_POLICY, RetryPolicy, is_transient, retry_call
from shared.runlock import exclusive
from shared.staging import abandon_load
from shared.syncconfig import FULL, SyncConfig
from steps.table_transfer.background import BackgroundUnload, UnloadOutcome
from steps.table_transfer.copy import CopiedPart, staged_url
from steps.table_transfer.load import (
    LoadOutcome,
    LoadTarget,
    PartFeed,
    UpstreamFailed,
    copy_statement,
    load_parts,
    target_error,
)
from steps.table_transfer.loaders import PublishingFeed, loader_phases, table_lock_scope
from steps.table_transfer.pipeline import PART_POLL_S, CopyStage, follow_unload
from steps.table_transfer.plan import TableSpec, TransferOptions
from steps.table_transfer.resume import LoadPlan, empty_target, plan_load
from steps.table_transfer.source_state import count_now
from steps.table_transfer.switch import SourceFacts, verify_and_switch
from steps.table_transfer.sync_load import SyncNotUsable, WholeSync, WindowByParts, sync_table
from steps.table_transfer.unload import Manifest, authorization_clause, select_statement, unload_statement
from steps.table_transfer.verify import checksum_aggregates

STEP = stepnames.TABLE_TRANSFER
_ATTEMPT_FOLDER = re.compile(r"/attempt-(\d+)/")


@dataclass
class TransferContext:
    run_id: str
    settings: Settings
    store: ObjectStore
    layout: RunLayout
    options: TransferOptions
    sync: SyncConfig | None = None  # --sync-config: tables synced incrementally (sync_load.py); others full


def _previous_result(ctx: TransferContext, source: TableRef) -> TableResult | None:
    url = ctx.layout.result(source)
    if not ctx.store.exists(url):
        return None
    try:
        return table_result_from_dict(ctx.store.read_json(url))
    except (BadInputError, TypeError, KeyError):
        return None  # an unreadable old record does not stop a new attempt; it is replaced


def next_attempt(ctx: TransferContext, source: TableRef, previous: TableResult | None) -> int:
    """One more than any attempt recorded, unloaded to S3 or claimed. A claim is written before the UNLOAD: an
    UNLOAD of a killed attempt can still be writing into its S3 folder after a re-run has listed it empty."""
    numbers = [a.number for a in previous.attempts] if previous else []
    table_prefix = ctx.layout.unload_table_prefix(source)
    numbers += [int(m.group(1)) for info in ctx.store.list(table_prefix)
                if (m := _ATTEMPT_FOLDER.search(info.url[len(table_prefix) - 1:]))]
    claims = ctx.layout.claims_prefix(source)
    numbers += [int(m.group(1)) for info in ctx.store.list(claims)
                if (m := re.search(r"attempt-(\d+)$", info.url))]
    return max(numbers, default=0) + 1


def claim_attempt(ctx: TransferContext, source: TableRef, number: int) -> None:
    ctx.store.write_json(ctx.layout.claim(source, number), Claim(ctx.run_id, str(source), number, utc_now()).to_json())


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
        with exclusive(lambda: alloydb_connection(ctx.settings, STEP, autocommit=True), ctx.run_id,
                       table_lock_scope(spec.source)):
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
            sync = ctx.sync.for_table(str(spec.source)) if ctx.sync else None
            if sync is not None and sync.mode != FULL:
                try:
                    sync_load = sync_table(ctx, spec, sync, attempt.number, result)
                except SyncNotUsable as unusable:
                    result.sync_mode, result.sync_note = None, f"loaded in full: {unusable.reason[:400]}"
                    event("sync.not_usable", mode=sync.mode, reason=unusable.reason)
                    _transfer(ctx, spec, attempt.number, result)
                else:
                    if sync_load is not None:
                        _transfer(ctx, spec, attempt.number, result, sync_load)
                        sync_load.record(result)
            else:
                if ctx.sync is not None:
                    result.sync_note = ctx.sync.full_reason(str(spec.source))
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


def _transfer(ctx: TransferContext, spec: TableSpec, attempt: int, result: TableResult,
              sync_load: WholeSync | WindowByParts | None = None) -> None:
    """Load the table whole, part by part (resumable), verified, switched in. With `sync_load` (a sync that reads
    the whole table, or a window too large to merge in one transaction) the UNLOAD's transaction also takes
    MAX(cursor) and the whole table's count, only the window is unloaded into a shadow, and the switch's
    transaction merges it (a window) and commits the watermark."""
    options, settings = ctx.options, ctx.settings
    clock = PhaseClock(result.phases)
    current = result.attempts[-1]
    lock = threading.Lock()

    def count_retry(_number: int, _error: BaseException) -> None:
        with lock:
            current.retries += 1

    policy = replace(DEFAULT_POLICY, on_retry=count_retry)

    def connect():
        return alloydb_connection(settings, STEP)

    plan = retry_call(_plan_load, connect, ctx, spec, attempt, sync_load.window_low if sync_load else None,
                      policy=policy, what=f"part ledger of {spec.target}")
    current.unload_attempt = plan.key.unload_attempt
    event("load.planned", unload_attempt=plan.key.unload_attempt, into=plan.into, resumed=plan.manifest is not None,
          parts_committed=len(plan.committed))
    aggregates = checksum_aggregates(spec) if options.verify == "checksum" else []
    try:
        facts, manifest, outcome = _unload_copy_and_load(ctx, spec, plan, result, clock, aggregates, policy,
                                                         connect, sync_load)
        _reload_lost_parts(ctx, spec, plan, manifest, outcome, attempt, connect, policy)
    except BaseException as exc:
        _abandon_unless_resumable(connect, plan, exc)
        raise
    result.rows_loaded, result.bytes_raw = outcome.rows_loaded, outcome.bytes_raw
    result.phases += loader_phases(connect, plan.key)
    event("phase.finished", phase="load", rows=outcome.rows_loaded, bytes_raw=outcome.bytes_raw,
          strategy=outcome.strategy, copy_busy_s=round(outcome.busy_s, 3), parts_loaded=len(outcome.parts_loaded),
          parts_reused=len(outcome.parts_reused))

    def checksum_seen(match: bool) -> None:
        result.checksum_match = match

    def reload_then_verify() -> str:
        # an AlloyDB crash during the verification can lose parts it had acknowledged: each try first reloads them
        _reload_lost_parts(ctx, spec, plan, manifest, outcome, attempt, connect, policy)
        joined = None if sync_load is None else sync_load.in_switch(facts, plan.table)
        return _verify_and_switch(connect, spec, plan, facts, outcome.rows_loaded, aggregates, checksum_seen,
                                  joined)

    try:
        with clock.phase("verify"):
            how = retry_call(reload_then_verify, policy=policy, what=f"verify and switch {spec.target}")
    except BaseException as exc:
        _abandon_unless_resumable(connect, plan, exc)
        raise
    current.switch = how
    # A synced table's rows written since its UNLOAD are the next run's window, as after a window merged in one
    # transaction (sync_table): no recount of the whole source for the report's "source changed during the run".
    result.rows_source_after = None if sync_load else count_now(settings, spec)
    if result.rows_source_after is not None and result.rows_source_after != result.rows_source:
        event("source.changed", rows_unloaded=result.rows_source, rows_now=result.rows_source_after)
    if options.cleanup:  # only after verification: a failed table keeps every part for the retry to look at
        with clock.phase("cleanup"):
            if "s3" in options.cleanup:  # earlier failed attempts' parts too: they are of no use once one succeeded
                ctx.store.delete_prefix(ctx.layout.unload_table_prefix(spec.source))
            if "gcs" in options.cleanup:
                ctx.store.delete_prefix(ctx.layout.staging_table_prefix(spec.source))


def _plan_load(connect, ctx: TransferContext, spec: TableSpec, attempt: int, window_low: str | None) -> LoadPlan:
    conn = connect()
    try:
        return plan_load(conn, ctx.store, ctx.layout, ctx.run_id, spec, attempt, ctx.options, window_low)
    except psycopg2.Error as exc:
        raise target_error(exc, spec) from None
    finally:
        conn.close()


def _verify_and_switch(connect, spec: TableSpec, plan: LoadPlan, facts: SourceFacts, rows: int, aggregates,
                       on_checksum, joined=None) -> str:
    conn = connect()
    try:
        return verify_and_switch(conn, spec, plan, facts, rows, aggregates, on_checksum, joined)
    except psycopg2.Error as exc:
        raise target_error(exc, spec) from None
    finally:
        conn.close()


def _abandon_unless_resumable(connect, plan: LoadPlan, exc: BaseException) -> None:
    """A failure a new attempt can cure (transient, a SIGTERM) keeps the load's committed parts for it; any other
    (verification, a refused row, a source error) takes them out, so the target is as it was."""
    error = exc.error if isinstance(exc, UpstreamFailed) else exc
    if not isinstance(error, Exception) or is_transient(error):
        return
    try:
        conn = connect()
    except Exception:
        return  # the next attempt abandons it (a new UNLOAD abandons every earlier load of the target)
    try:
        with conn.cursor() as cur:
            done = abandon_load(cur, plan.record, empty_target)
        conn.commit()
        event("load.abandoned", unload_attempt=plan.key.unload_attempt, done=done, why=type(error).__name__)
    except Exception as failure:
        event("load.abandon_failed", unload_attempt=plan.key.unload_attempt, error=str(failure)[:200])
    finally:
        conn.close()


def _record_source(result: TableResult, facts: SourceFacts | None, manifest: Manifest | None) -> None:
    if facts is None or manifest is None:
        return
    result.rows_source = facts.rows if facts.total is None else facts.total
    result.rows_unloaded = manifest.record_count
    result.parts, result.bytes_compressed = len(manifest.parts), manifest.bytes_compressed


def _unload_copy_and_load(ctx: TransferContext, spec: TableSpec, plan: LoadPlan, result: TableResult,
                          clock: PhaseClock, aggregates, policy: RetryPolicy, connect,
                          sync_load: WholeSync | WindowByParts | None) -> tuple[SourceFacts, Manifest, LoadOutcome]:
    """UNLOAD ∥ copy ∥ load of a new load, or copy ∥ load of the parts a resumed load lacks."""
    settings, options = ctx.settings, plan.options
    unload_attempt = plan.key.unload_attempt
    current = result.attempts[-1]
    prefix = ctx.layout.unload_prefix(spec.source, unload_attempt)
    unload = None
    if plan.manifest is None:
        unload = BackgroundUnload(settings, ctx.store, spec, options, prefix, authorization_clause(settings),
                                  aggregates, sync_load.cursor_column if sync_load else None,
                                  sync_load.window() if sync_load else None)
        result.phases.append(unload.timing)
    else:  # the UNLOAD of an earlier attempt is reused
        now = utc_now()
        result.phases.append(PhaseTiming("unload", now, now, 0.0, "skipped"))
    feed = PublishingFeed(connect, plan.key)  # the table's other loaders (loaders.py) load what it publishes
    copies = CopyStage(settings.s3, settings.gcs, ctx.layout.staging_prefix(spec.source, unload_attempt), feed,
                       options.parallel_parts, policy)
    result.phases.append(copies.timing)
    target = LoadTarget(plan.table, plan.key, current.number, plan.committed, plan.into)
    outcome = LoadOutcome(strategy=f"parts x{options.load_sessions} into {plan.into}")
    if unload is None:
        record = plan.record
        facts = SourceFacts(record.source_rows or 0, record.source_checks, plan.manifest.record_count,
                            record.source_high, record.source_total, record.source_table_checks)
        _record_source(result, facts, plan.manifest)
        missing = [part for part in plan.manifest.parts if _file_name(part.url) not in plan.committed]
        for part in missing:
            copies.submit(part)
        copies.expect(len(missing))
        try:
            with clock.phase("load"):
                load_parts(connect, ctx.store, spec, options, feed, target, outcome, policy=policy)
        finally:
            copies.close(cancel=True)
            feed.close_publisher()
            _note_outcome(current, outcome)
        return facts, plan.manifest, outcome
    def unloaded(source: UnloadOutcome) -> None:
        retry_call(_mark_unloaded, connect, plan, source, policy=policy, what=f"record the UNLOAD of {spec.source}")

    follower = threading.Thread(target=follow_unload, args=(ctx.store, unload, copies),
                                kwargs={"on_unloaded": unloaded}, name="follow-unload", daemon=True)
    unload.start()
    follower.start()
    failed = True
    try:
        with clock.phase("load"):
            load_parts(connect, ctx.store, spec, options, feed, target, outcome, policy=policy)
        failed = False
    finally:
        _note_outcome(current, outcome)
        if failed:
            unload.stop("the load ended first")
        follower.join(PART_POLL_S * 5)
        copies.close(cancel=failed)
        feed.close_publisher()
        if unload.done:
            try:
                source = unload.outcome()
            except BaseException:
                source = None
            if source is not None:
                _record_source(result, _facts(source), source.manifest)
    source = unload.outcome()
    return _facts(source), source.manifest, outcome


def _facts(source: UnloadOutcome) -> SourceFacts:
    return SourceFacts(source.source_rows, source.source_checks, source.manifest.record_count, source.source_high,
                       source.source_total, source.source_table_checks)


# A crash of a server running with synchronous_commit off (devstack's) can lose commits it had acknowledged. The
# ledger goes with its part's rows, so it says which parts are gone; they are loaded again, from GCS, up to twice.
LOST_PART_PASSES = 2


def _reload_lost_parts(ctx: TransferContext, spec: TableSpec, plan: LoadPlan, manifest: Manifest,
                       outcome: LoadOutcome, attempt: int, connect, policy: RetryPolicy) -> None:
    staging_prefix = ctx.layout.staging_prefix(spec.source, plan.key.unload_attempt)
    for _ in range(LOST_PART_PASSES):
        committed = retry_call(_committed, connect, plan, policy=policy, what=f"part ledger of {spec.target}")
        if committed is None:  # switched in by a try whose COMMIT's answer was lost: nothing is missing
            return
        lost = [part for part in manifest.parts if _file_name(part.url) not in committed]
        if not lost:
            return
        event("load.parts_lost", parts=len(lost), why="AlloyDB lost commits it had acknowledged")
        outcome.uncount({_file_name(part.url) for part in lost})
        feed = PartFeed()
        for part in lost:
            feed.add(CopiedPart(part, staged_url(staging_prefix, part), part.size))
        feed.finish()
        # only the lost parts are fed; the committed ones are counted already
        target = LoadTarget(plan.table, plan.key, attempt, {}, plan.into)
        load_parts(connect, ctx.store, spec, plan.options, feed, target, outcome, policy=policy)


def _file_name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _committed(connect, plan: LoadPlan) -> set[str] | None:
    """The parts the ledger holds for the load; None when the load is gone from the ledger (switched in)."""
    conn = connect()
    try:
        with conn.cursor() as cur:
            if not load_exists(cur, plan.key):
                return None
            return set(committed_parts(cur, plan.key))
    finally:
        conn.rollback()
        conn.close()



def _mark_unloaded(connect, plan: LoadPlan, source: UnloadOutcome) -> None:
    conn = connect()
    try:
        with conn.cursor() as cur:
            mark_unloaded(cur, plan.key, source.source_rows, source.source_checks, source.manifest.url,
                          source.source_high, source.source_total, source.source_table_checks)
        conn.commit()
    finally:
        conn.close()


def _note_outcome(current: Attempt, outcome: LoadOutcome) -> None:
    current.parts_loaded, current.parts_reused = sorted(outcome.parts_loaded), sorted(outcome.parts_reused)


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
            "load": f"parts x{ctx.options.load_sessions}"}
    target = alloydb_connection(ctx.settings, STEP)
    try:
        plan["copy"] = copy_statement(spec, ctx.options).as_string(target)
    finally:
        target.close()
    return plan


def render_plan(plans: list[dict]) -> str:
    return json_for_lines(json.dumps(plans, indent=2, ensure_ascii=False))  # names are Redshift's text

