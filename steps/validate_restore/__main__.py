"""`python -m steps.validate_restore --run-id R [--scratch-dsn DSN]`"""

from __future__ import annotations

import typer

from shared.cli import StepApp, step_boundary
from shared.errors import ConfigError
from shared.log import event
from shared.steprecord import StepRecord
from steps.validate_restore.core import validate
from steps.validate_restore.scratch import STEP

app = StepApp(STEP, help=__doc__)


@app.command()
def main(
    run_id: str = typer.Option(..., "--run-id", help="the run whose rewrite_ddl output to validate"),
    scratch_dsn: str | None = typer.Option(None, "--scratch-dsn", show_default=False,
                                           help="libpq DSN of the scratch PostgreSQL (a database per run is "
                                                "created inside it and dropped afterwards) [default: "
                                                "R2A_SCRATCH_DSN]"),
) -> None:
    """Apply the rewritten schema to a scratch PostgreSQL object by object, report what it refuses, pg_dump it."""
    with step_boundary(STEP, run_id, {"R2A_SCRATCH_DSN": scratch_dsn}) as step:
        record = StepRecord(step)
        if not step.settings.scratch_dsn:
            raise ConfigError("missing setting: R2A_SCRATCH_DSN", "Pass --scratch-dsn or set R2A_SCRATCH_DSN")
        summary = validate(run_id, step.settings.scratch_dsn, record.store, record.layout)
        status = "succeeded" if summary.all_applied else "partial"
        record.finished(status, phases=summary.phases, counts=summary.counts, outputs=summary.outputs)
        event("step.finished", status=status, passes=summary.passes, **summary.counts)


if __name__ == "__main__":
    app()
