"""`python -m steps.dump_schema --run-id R [--schemas a,b] [--exclude-schemas c] [--tables REGEX]`"""

from __future__ import annotations

import typer

from shared.cli import StepApp, checked, step_boundary
from shared.connections import redshift_connection
from shared.log import event
from shared.steprecord import StepRecord
from steps.dump_schema.core import STEP, dump, make_filters, write

app = StepApp(STEP, help=__doc__)


@app.command()
def main(
    run_id: str = typer.Option(..., "--run-id", help="the run whose folder receives catalog.json"),
    schemas: str | None = typer.Option(None, "--schemas", help="only these schemas (comma-separated)"),
    exclude_schemas: str | None = typer.Option(None, "--exclude-schemas", help="leave these schemas out"),
    tables: str | None = typer.Option(None, "--tables", callback=checked(lambda text: make_filters(None, None, text)),
                                      help="only tables and views whose schema.name matches"),
) -> None:
    """Read the Redshift catalog (SHOW TABLE/VIEW/PROCEDURE included) into catalog.json and schema_redshift.sql."""
    with step_boundary(STEP, run_id) as step:
        filters = make_filters(schemas, exclude_schemas, tables)
        record = StepRecord(step)
        with redshift_connection(step.settings, STEP) as conn:
            result = dump(conn, filters, run_id)
        outputs = write(result, record.store, record.layout)
        status = "partial" if result.show_failures else "succeeded"
        record.finished(status, counts=result.counts, outputs=outputs)
        event("step.finished", status=status, **result.counts)


if __name__ == "__main__":
    app()
