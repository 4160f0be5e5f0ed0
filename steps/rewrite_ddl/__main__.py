"""`python -m steps.rewrite_ddl --run-id R [--overrides PATH_OR_GS_URL] [--sortkey-indexes] [--grants]`"""

from __future__ import annotations

import typer

from shared.cli import StepApp, step_boundary
from shared.log import event
from shared.steprecord import StepRecord
from steps.rewrite_ddl.core import STEP, load_overrides, output_urls, run
from steps.rewrite_ddl.tables import Options

app = StepApp(STEP, help=__doc__)


@app.command()
def main(
    run_id: str = typer.Option(..., "--run-id", help="the run whose catalog.json to rewrite"),
    overrides: str | None = typer.Option(None, "--overrides",
                                         help="YAML file (local path or gs:// URL): exclude, rename, force types"),
    sortkey_indexes: bool = typer.Option(False, "--sortkey-indexes/--no-sortkey-indexes",
                                         help="turn each table's SORTKEY into a btree index in post-data"),
    grants: bool = typer.Option(False, "--grants/--no-grants",
                                help="write users, groups (as roles) and grants to post-data"),
) -> None:
    """Rewrite the Redshift catalog as PostgreSQL DDL: pre-data, post-data, views, compat functions, name map."""
    with step_boundary(STEP, run_id) as step:
        record = StepRecord(step)
        options = Options(sortkey_indexes=sortkey_indexes, grants=grants)
        result = run(run_id, record.store, record.layout, load_overrides(record.store, overrides), options)
        outputs = list(output_urls(record.layout).values())
        record.finished("succeeded", counts=result.counts, outputs=outputs)
        event("step.finished", status="succeeded", **result.counts)


if __name__ == "__main__":
    app()
