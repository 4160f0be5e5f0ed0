"""`python -m steps.table_transfer --run-id R (--table schema.table | --batch ID) [--plan URL] [--format text|csv]
[--compression zstd|gzip] [--parallel-parts N] [--max-file-size 32MB] [--cleanup s3,gcs] [--verify count|checksum]
[--dry-run]`"""

from __future__ import annotations

import time
from enum import StrEnum

import typer

from shared import argo_outputs, progress, stopping
from shared.cli import StepApp, checked, error_line, step_boundary
from shared.connections import reusing_tunnels
from shared.errors import BadInputError, ExitCode
from shared.identifiers import parse_table_ref
from shared.log import event
from shared.objectstore import ObjectStore, RunLayout
from shared.results import TableResult
from shared.syncconfig import read_config
from steps.table_transfer.core import (
    STEP,
    TransferContext,
    dry_run_plan,
    failed_result,
    render_plan,
    transfer_table,
    write_result,
)
from steps.table_transfer.plan import (
    COMPRESSIONS,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_RENAME_SWITCH_MB,
    FORMATS,
    VERIFY_MODES,
    TransferOptions,
    max_file_size_clause,
    parse_cleanup,
    select_tables,
)

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
                                  rename_switch_mb=rename_switch_mb)
        sync = read_config(sync_config, store) if sync_config else None
        ctx = TransferContext(run_id, step.settings, store, layout, options, sync)
        single = parse_table_ref(table) if table is not None and batch is None else None
        written: list[TableResult] = []

        def record_failure(exc: BaseException) -> None:
            if single is not None and not written and not dry_run:
                write_result(ctx, single, failed_result(ctx, single, exc))

        step.on_failure.append(record_failure)
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


if __name__ == "__main__":
    app()
