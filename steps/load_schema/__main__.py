"""`python -m steps.load_schema --run-id R --section pre-data|post-data [--on-existing refresh|fail|skip|replace]
[--dropped-in-source keep|drop] [--own-pod-min-mb MB] [--concurrency N] [--index-jobs N]`"""

from __future__ import annotations

from enum import StrEnum

import typer

from shared.cli import StepApp, step_boundary
from shared.log import event
from shared.objects_report import STEP
from shared.steprecord import StepRecord
from steps.load_schema import fanout
from steps.load_schema.core import load_post_data, load_pre_data

app = StepApp(STEP, help=__doc__)


class DroppedInSource(StrEnum):
    keep = "keep"
    drop = "drop"


class Section(StrEnum):
    pre_data = "pre-data"
    post_data = "post-data"


class OnExisting(StrEnum):
    fail = "fail"
    skip = "skip"
    replace = "replace"
    refresh = "refresh"


@app.command()
def main(
    run_id: str = typer.Option(..., "--run-id", help="the run whose validated schema to apply"),
    section: Section = typer.Option(..., "--section", help="pre-data (before the transfers) or post-data (after)"),
    on_existing: OnExisting = typer.Option(
        OnExisting.refresh, "--on-existing",
        help="pre-data: tables that already exist in AlloyDB (refresh: keep and reload what an earlier r2a run "
             "created, stop at any other table)"),
    dropped_in_source: DroppedInSource = typer.Option(
        DroppedInSource.keep, "--dropped-in-source",
        help="pre-data with refresh: tables an earlier r2a run created that the source no longer has"),
    own_pod_min_mb: float = typer.Option(
        fanout.OWN_POD_MIN_MB, "--own-pod-min-mb", min=0,
        help="pre-data: a table of at least this many MB (svv_table_info size) gets a table-transfer pod of its own; "
             "smaller ones go into batches of about this much work; 0 = a pod for every table (steps/load_schema/"
             "fanout.py)"),
    concurrency: int = typer.Option(
        fanout.CONCURRENCY, "--concurrency", min=1, max=1000,
        help="pre-data: concurrent table-transfer pods of the run; small databases get at least this many batches"),
    index_jobs: int = typer.Option(
        4, "--index-jobs", min=1, max=64,
        help="post-data: AlloyDB sessions building keys and indexes and running ANALYZE at once (like pgcopydb's "
             "--index-jobs)"),
) -> None:
    """Apply one section of the validated schema to AlloyDB and report every object.

    pre-data prints the fan-out list (JSON) on stdout for Argo's withParam.
    """
    result_name = f"{STEP}_{section.value.replace('-', '_')}"
    with step_boundary(STEP, run_id) as step:
        record = StepRecord(step, result_name)
        if section is Section.pre_data:
            summary = load_pre_data(run_id, step.settings, record.store, record.layout, on_existing.value,
                                    dropped_in_source is DroppedInSource.drop, own_pod_min_mb, concurrency)
        else:
            summary = load_post_data(run_id, step.settings, record.store, record.layout, index_jobs)
        status = "succeeded" if summary.clean else "partial"
        record.finished(status, phases=summary.phases, counts=summary.counts, outputs=summary.outputs)
        event("step.finished", section=section.value, status=status, fanout_items=len(summary.fanout_items),
              **summary.counts)
        if section is Section.pre_data:
            print(summary.fanout_json, flush=True)


if __name__ == "__main__":
    app()
