"""`python -m steps.rewrite_ddl --run-id R [--overrides PATH_OR_GS_URL] [--sortkey-indexes] [--grants]`"""

from __future__ import annotations

import time

import typer

from shared.cli import step_boundary
from shared.log import event
from shared.objectstore import ObjectStore, RunLayout
from shared.results import ErrorInfo, StepResult, to_dict, utc_now
from steps.rewrite_ddl.core import OUTPUT_URLS, STEP, load_overrides, run
from steps.rewrite_ddl.tables import Options

app = typer.Typer(add_completion=False, help=__doc__)


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
        started_at, started = utc_now(), time.monotonic()
        store = ObjectStore(step.settings.s3, step.settings.gcs)
        layout = RunLayout.from_settings(run_id, step.settings.gcs)

        def record_failure(exc: BaseException) -> None:
            store.write_json(layout.step_result(STEP), to_dict(StepResult(
                run_id, STEP, "failed", started_at, utc_now(), round(time.monotonic() - started, 3),
                error=ErrorInfo.from_exception(exc))))

        step.on_failure.append(record_failure)
        options = Options(sortkey_indexes=sortkey_indexes, grants=grants)
        result = run(run_id, store, layout, load_overrides(store, overrides), options)
        outputs = [getattr(layout, attribute) for attribute in OUTPUT_URLS.values()]
        store.write_json(layout.step_result(STEP), to_dict(StepResult(
            run_id, STEP, "succeeded", started_at, utc_now(), round(time.monotonic() - started, 3),
            counts=result.counts, outputs=outputs)))
        event("step.finished", status="succeeded", **result.counts)


if __name__ == "__main__":
    app()
