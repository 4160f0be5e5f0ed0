"""`python -m steps.validate_restore --run-id R [--scratch-dsn DSN]`"""

from __future__ import annotations

import time

import typer

from shared.cli import step_boundary
from shared.errors import ConfigError
from shared.log import event
from shared.objectstore import ObjectStore, RunLayout
from shared.results import ErrorInfo, StepResult, to_dict, utc_now
from steps.validate_restore.core import validate
from steps.validate_restore.scratch import STEP

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    run_id: str = typer.Option(..., "--run-id", help="the run whose rewrite_ddl output to validate"),
    scratch_dsn: str | None = typer.Option(None, "--scratch-dsn", envvar="R2A_SCRATCH_DSN", show_envvar=True,
                                           show_default=False,
                                           help="libpq DSN of the scratch PostgreSQL (a database per run is "
                                                "created inside it and dropped afterwards)"),
) -> None:
    """Apply the rewritten schema to a scratch PostgreSQL object by object, report what it refuses, pg_dump it."""
    with step_boundary(STEP, run_id, {"R2A_SCRATCH_DSN": scratch_dsn}) as step:
        started_at, started = utc_now(), time.monotonic()
        store = ObjectStore(step.settings.s3, step.settings.gcs)
        layout = RunLayout.from_settings(run_id, step.settings.gcs)

        def record_failure(exc: BaseException) -> None:
            store.write_json(layout.step_result(STEP), to_dict(StepResult(
                run_id, STEP, "failed", started_at, utc_now(), round(time.monotonic() - started, 3),
                error=ErrorInfo.from_exception(exc))))

        step.on_failure.append(record_failure)
        if not step.settings.scratch_dsn:
            raise ConfigError("missing setting: R2A_SCRATCH_DSN", "Pass --scratch-dsn or set R2A_SCRATCH_DSN")
        summary = validate(run_id, step.settings.scratch_dsn, store, layout)
        status = "succeeded" if summary.all_applied else "partial"
        store.write_json(layout.step_result(STEP), to_dict(StepResult(
            run_id, STEP, status, started_at, utc_now(), round(time.monotonic() - started, 3),
            phases=summary.phases, counts=summary.counts, outputs=summary.outputs)))
        event("step.finished", status=status, passes=summary.passes, **summary.counts)


if __name__ == "__main__":
    app()
