"""`python -m steps.plan --run-id R [--compression zstd|gzip] [--concurrency N] [--index-jobs N]`"""

from __future__ import annotations

from enum import StrEnum

import typer

from shared import stepnames
from shared.cli import StepApp, step_boundary
from shared.connections import redshift_connection
from shared.log import event
from shared.plan_text import plan_lines
from shared.results import PhaseClock, PhaseTiming
from shared.steprecord import StepRecord
from steps.plan import core

app = StepApp(stepnames.PLAN, help=__doc__)


class Codec(StrEnum):
    zstd = "zstd"
    gzip = "gzip"


@app.command()
def main(
    run_id: str = typer.Option(..., "--run-id", help="the run whose rewritten schema to size"),
    compression: Codec = typer.Option(Codec.zstd, "--compression", help="the run's UNLOAD compression"),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="table transfers at once (the DAG's limit)"),
    index_jobs: int = typer.Option(4, "--index-jobs", min=1, help="post-data sessions (parameter index-jobs)"),
    table_overhead_s: float = typer.Option(
        core.TABLE_OVERHEAD_S, "--table-overhead-s", min=0.0,
        help="seconds a table's transfer costs besides its bytes (assumed by default, not measured)"),
) -> None:
    """Size the run before a byte moves: prints the plan and writes plan.json to the run folder."""
    with step_boundary(stepnames.PLAN, run_id) as step:
        record = StepRecord(step, "plan")
        store, layout = record.store, record.layout
        phases: list[PhaseTiming] = []
        clock = PhaseClock(phases)
        with clock.phase("read"):
            core.check_inputs(store, layout)
            tables = core.read_tables(store.read_json(layout.name_map_json), layout.name_map_json)
            dropped = core.not_migrated(store, layout)
            keys_and_indexes = core.post_data_objects(store, layout)
        with clock.phase("sample"), redshift_connection(step.settings, "plan") as conn:
            samples, problems = core.sample_tables(conn, tables, compression.value)
        with clock.phase("write"):
            plan = core.build_plan(run_id, tables, samples, problems, dropped, keys_and_indexes, compression.value,
                                   concurrency, index_jobs, table_overhead_s)
            store.write_json(layout.plan_json, plan.to_json())
        counts = {"tables": len(tables), "sampled": len(samples), "not_migrated": len(dropped)}
        record.finished("succeeded", phases=phases, counts=counts, outputs=[layout.plan_json])
        event("step.finished", status="succeeded", **counts)
        print("\n".join(plan_lines(plan.to_json())), flush=True)


if __name__ == "__main__":
    app()
