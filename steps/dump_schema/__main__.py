"""`python -m steps.dump_schema --run-id R [--schemas a,b] [--exclude-schemas c] [--tables REGEX]`"""

from __future__ import annotations

import time

import typer

from shared.cli import step_boundary
from shared.connections import redshift_connection
from shared.log import event
from shared.objectstore import ObjectStore, RunLayout
from shared.results import ErrorInfo, StepResult, to_dict, utc_now
from steps.dump_schema.core import STEP, dump, make_filters, write

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    run_id: str = typer.Option(..., "--run-id", help="the run whose folder receives catalog.json"),
    schemas: str | None = typer.Option(None, "--schemas", help="only these schemas (comma-separated)"),
    exclude_schemas: str | None = typer.Option(None, "--exclude-schemas", help="leave these schemas out"),
    tables: str | None = typer.Option(None, "--tables", help="only tables and views whose schema.name matches"),
) -> None:
    """Read the Redshift catalog (SHOW TABLE/VIEW/PROCEDURE included) into catalog.json and schema_redshift.sql."""
    with step_boundary(STEP, run_id) as step:
        started_at, started = utc_now(), time.monotonic()
        filters = make_filters(schemas, exclude_schemas, tables)
        store = ObjectStore(step.settings.s3, step.settings.gcs)
        layout = RunLayout.from_settings(run_id, step.settings.gcs)

        def record_failure(exc: BaseException) -> None:
            store.write_json(layout.step_result(STEP), to_dict(StepResult(
                run_id, STEP, "failed", started_at, utc_now(), round(time.monotonic() - started, 3),
                error=ErrorInfo.from_exception(exc))))

        step.on_failure.append(record_failure)
        with redshift_connection(step.settings, STEP) as conn:
            result = dump(conn, filters, run_id)
        outputs = write(result, store, layout)
        status = "partial" if result.show_failures else "succeeded"
        store.write_json(layout.step_result(STEP), to_dict(StepResult(
            run_id, STEP, status, started_at, utc_now(), round(time.monotonic() - started, 3),
            counts=result.counts, outputs=outputs)))
        event("step.finished", status=status, **result.counts)


if __name__ == "__main__":
    app()
