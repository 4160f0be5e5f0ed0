"""`python -m steps.table_transfer --run-id R (--table schema.table | --batch ID | --loader loader-N-of-K:schema.table)
[--plan URL] [--format text|csv]
[--compression zstd|gzip] [--parallel-parts N] [--max-file-size 32MB] [--cleanup s3,gcs] [--verify count|checksum]
[--dry-run]`"""

from __future__ import annotations

import logging
import time
from enum import StrEnum

import psycopg2
import typer

from shared import argo_outputs, progress, stopping
from shared.cli import StepApp, checked, error_line, step_boundary
from shared.connections import alloydb_connection, reusing_tunnels
from shared.errors import BadInputError, ConfigError, ExitCode, ObjectStoreError, R2AError
from shared.identifiers import TableRef, parse_table_ref
from shared.loader_items import LoaderItem, name_of_item, parse_loader_item
from shared.log import event, one_line
from shared.objectstore import ObjectStore, RunLayout
from shared.results import TableResult
from shared.retry import is_transient
from shared.syncconfig import FULL, read_config
from steps.table_transfer.core import (
    STEP,
    TransferContext,
    dry_run_plan,
    failed_result,
    render_plan,
    transfer_table,
    write_result,
)
from steps.table_transfer.loaders import LoaderReport, run_loader
from steps.table_transfer.plan import (
    COMPRESSIONS,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_MERGE_IN_ONE_MB,
    DEFAULT_RENAME_SWITCH_MB,
    FORMATS,
    VERIFY_MODES,
    TransferOptions,
    max_file_size_clause,
    parse_cleanup,
    select_tables,
)
from steps.table_transfer.sync_load import window_by_parts

app = StepApp(STEP, help=__doc__)
DataFormat = StrEnum("DataFormat", {value: value for value in FORMATS})
Compression = StrEnum("Compression", {value: value for value in COMPRESSIONS})
Verify = StrEnum("Verify", {value: value for value in VERIFY_MODES})


def _check_cleanup(text: str) -> None:
    TransferOptions(cleanup=parse_cleanup(text))


def exit_code(results: list[TableResult]) -> int:
    """0 when every table succeeded; 1 (Argo retries) when every failure is transient; else the first
    permanent failure's code."""
    failures = [r.error for r in results if r.status != "succeeded" and r.error is not None]
    if not failures:
        return int(ExitCode.OK)
    if all(error.transient for error in failures):
        return int(ExitCode.FAILED)
    return next(error.exit_code for error in failures if not error.transient)


@app.command()
def main(
    run_id: str = typer.Option(..., "--run-id", help="the run whose tables.json names the table"),
    table: str | None = typer.Option(None, "--table", help="the Redshift table, schema.table"),
    batch: str | None = typer.Option(None, "--batch", help="a batch of small tables (batches/<ID>.json)"),
    loader: str | None = typer.Option(None, "--loader", help="loader-N-of-K:schema.table: only load parts of a big "
                                      "table that its own --table item unloads (loaders.py)"),
    loader_wait_s: float = typer.Option(900.0, "--loader-wait-s", min=0,
                                        help="--loader: how long to wait while the table's own item is not running "
                                             "(loaders.py)"),
    plan: str | None = typer.Option(None, "--plan", help="tables.json to read instead of the run's"),
    data_format: DataFormat = typer.Option("text", "--format", help="UNLOAD format: text (exact) or csv"),
    compression: Compression = typer.Option(
        "zstd", "--compression", help="zstd (cheaper to UNLOAD and to decompress) or gzip (the old system's .gz)"),
    parallel_parts: int = typer.Option(4, "--parallel-parts", min=1, max=64,
                                       help="parts copied S3 → GCS at the same time"),
    load_sessions: int = typer.Option(1, "--load-sessions", min=1, max=64,
                                      help="COPY sessions, each loading whole parts"),
    rename_switch_mb: float = typer.Option(DEFAULT_RENAME_SWITCH_MB, "--rename-switch-mb", min=0,
                                           help="a target holding at least this many MB is switched by renames, "
                                                "a smaller one by TRUNCATE + INSERT (steps/table_transfer/README.md)"),
    merge_in_one_mb: float = typer.Option(DEFAULT_MERGE_IN_ONE_MB, "--merge-in-one-mb", min=0,
                                          help="--sync-config: the window of a table of up to this many MB is "
                                               "merged in one transaction, a larger table's loaded part by part "
                                               "(resumable) and merged at the end; 0: every table "
                                               "(steps/table_transfer/README.md)"),
    max_file_size: str = typer.Option(DEFAULT_MAX_FILE_SIZE, "--max-file-size", callback=checked(max_file_size_clause),
                                      help="UNLOAD MAXFILESIZE (5MB..6.2GB): parts are copied and loaded as each "
                                           "one is written"),
    cleanup: str | None = typer.Option(None, "--cleanup", callback=checked(_check_cleanup),
                                       help="after success delete staged files: s3,gcs"),
    verify: Verify = typer.Option("count", "--verify", help="count, or checksum (per-column aggregates too)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the statements and folders; change nothing"),
    sync_config: str | None = typer.Option(None, "--sync-config",
                                           help="sync config (gs://, s3:// or a file): tables synced incrementally "
                                                "(shared/syncconfig.py); every other table is loaded in full"),
) -> None:
    """Move one table (or a batch) from Redshift to AlloyDB, verified, and write results/<table>.json."""
    with step_boundary(STEP, run_id) as step:
        stopping.stop_at_safe_points()  # the main thread feeds COPY from an HTTP stream: never cut it mid-read
        store = ObjectStore(step.settings.s3, step.settings.gcs)
        layout = RunLayout.from_settings(run_id, step.settings.gcs, step.settings.s3)
        options = TransferOptions(data_format.value, compression.value, parallel_parts, max_file_size,
                                  parse_cleanup(cleanup), verify.value, dry_run, load_sessions,
                                  rename_switch_mb=rename_switch_mb, merge_in_one_mb=merge_in_one_mb)
        sync = read_config(sync_config, store) if sync_config else None
        ctx = TransferContext(run_id, step.settings, store, layout, options, sync)
        table = name_of_item(table) if table is not None else None  # a fan-out item may hold the name in base64
        single = parse_table_ref(table) if table is not None and batch is None else None
        written: list[TableResult] = []

        def record_failure(exc: BaseException) -> None:
            if single is not None and not written and not dry_run:
                write_result(ctx, single, failed_result(ctx, single, exc))

        step.on_failure.append(record_failure)
        if loader is not None:
            if table is not None or batch is not None or dry_run:
                raise BadInputError("--loader goes without --table, --batch and --dry-run")
            _run_loader(ctx, parse_loader_item(loader), plan, loader_wait_s)
            return
        selection = select_tables(store, layout, table=table, batch=batch, plan_url=plan)
        if dry_run:
            typer.echo(render_plan([dry_run_plan(ctx, spec) for spec in selection.tables]))
            if selection.missing:
                raise BadInputError(f"not in the plan: {', '.join(str(m) for m in selection.missing)}")
            return
        total = len(selection.missing) + len(selection.tables)
        for ref in selection.missing:
            result = failed_result(ctx, ref, BadInputError(f"table {ref} is not in the plan (tables.json)"))
            write_result(ctx, ref, result)
            written.append(result)
        progress.report(len(written), total)  # tables done / tables of this pod, for Argo's UI
        with reusing_tunnels():  # one SSH tunnel for every Redshift session of the batch, not one per session
            for spec in selection.tables:
                stopping.raise_if_stopped()
                written.append(transfer_table(ctx, spec))
                progress.report(len(written), total)
        argo_outputs.write(argo_outputs.transfer_totals(written))  # for the template's Prometheus metrics
        code = exit_code(written)
        event("step.finished", tables=len(written), failed=sum(r.status != "succeeded" for r in written),
              cpu_s=round(time.process_time(), 3))  # the whole process's, start-up and imports included
        if code:
            failed = [r for r in written if r.status != "succeeded"]
            first = failed[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            error_line(STEP, f"{first.table}: {first.error.message}{more}")
            raise typer.Exit(code)


def _run_loader(ctx: TransferContext, item: LoaderItem, plan: str | None, wait_s: float) -> None:
    """A further loader of one big table: no result file (the table's own item writes it), a log line, and progress
    0/0: Argo sums its pods' progress into the run's, and the table is counted by its own item."""
    progress.report(0, 0)
    selection = select_tables(ctx.store, ctx.layout, table=str(item.table), batch=None, plan_url=plan)
    if selection.missing:
        raise BadInputError(f"table {item.table} is not in the plan (tables.json)")
    spec = selection.tables[0]
    sync = ctx.sync.for_table(str(spec.source)) if ctx.sync else None
    if sync is not None and sync.mode != FULL and not window_by_parts(spec, sync, ctx.options.merge_in_one_mb):
        # its own item merges the window in one transaction, through no part ledger (sync_load.py)
        report = LoaderReport(ended="synced-incrementally")
    else:
        try:
            report = run_loader(lambda: alloydb_connection(ctx.settings, STEP), ctx.store, ctx.run_id, spec,
                                ctx.options, item, wait_s, lambda: _succeeded(ctx, spec.source))
        except (BadInputError, ConfigError):
            raise
        except (R2AError, psycopg2.Error, OSError) as exc:
            # The table's own item owns its outcome: it loads every part this loader did not commit, and a part
            # that cannot be loaded fails the table there. So this item's node must not fail a run whose table
            # succeeded; its failure is this warning and the speed it cost.
            error = exc.one_line() if isinstance(exc, R2AError) else one_line(exc, 300)
            event("loader.failed", table=str(spec.source), level=logging.WARNING, loader=item.number,
                  loaders=item.count, error=error, transient=is_transient(exc))
            return
    event("loader.finished", table=str(spec.source), loader=item.number, loaders=item.count,
          unload_attempts=sorted(report.unload_attempts), parts_loaded=len(report.parts_loaded),
          rows_loaded=report.rows_loaded, ended=report.ended, cpu_s=round(time.process_time(), 3))


def _succeeded(ctx: TransferContext, source: TableRef) -> bool:
    """The table's result in the run says succeeded (a result being replaced, or unreadable, says no)."""
    url = ctx.layout.result(source)
    try:
        document = ctx.store.read_json(url) if ctx.store.exists(url) else None
    except (ObjectStoreError, BadInputError):
        return False
    return isinstance(document, dict) and document.get("status") == "succeeded"


if __name__ == "__main__":
    app()
