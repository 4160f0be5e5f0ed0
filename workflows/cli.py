"""The `r2a` command: render the Argo manifests, and run the rendered DAG locally against devstack."""

from __future__ import annotations

from pathlib import Path

import typer

from workflows import render as rendering

app = typer.Typer(help="r2a: Redshift → AlloyDB as an Argo Workflows DAG.", no_args_is_help=True,
                  add_completion=False)


@app.command()
def render(out: Path = typer.Option(rendering.RENDERED_DIR, help="folder for the rendered YAML")) -> None:
    """Write the Argo manifests (WorkflowTemplate, Workflow, CronWorkflow) from the Hera definitions."""
    for path in rendering.render(out):
        typer.echo(path)


@app.command("run-local")
def run_local(
    workflow: Path = typer.Option(rendering.RENDERED_DIR / "workflow-local.yaml",
                                  help="rendered Workflow to run (a workflowTemplateRef is resolved beside it)"),
    parameter: list[str] = typer.Option([], "--parameter", "-p",
                                        help="workflow parameter as name=value (repeatable); devstack fills the "
                                             "connection parameters, run-id defaults to <database>_<UTC time>"),
    devstack_dir: Path = typer.Option(None, "--devstack",
                                      help="devstack state folder [default: $R2A_DEVSTACK_DIR or ./.devstack]"),
    concurrency: int = typer.Option(None, min=1, help="tasks at once [default: the DAG's parallelism]"),
    workdir: Path = typer.Option(None, help="folder for task logs [default: ./run-local/<run-id>]"),
) -> None:
    """Run the rendered DAG on this machine against devstack: each task's container command as a local process."""
    from devstack import env as devstack_env
    from shared.objectstore import new_run_id
    from workflows.local_env import devstack_environment
    from workflows.run_local import RunLocalError, parse_parameters, print_nodes, run_workflow

    try:
        env = devstack_env.load(devstack_env.state_dir(devstack_dir))
        parameters, local = devstack_environment(env)
        parameters.update(parse_parameters(parameter))
        parameters["run-id"] = parameters.get("run-id") or new_run_id(parameters["database"])
        folder = workdir or Path("run-local") / parameters["run-id"]
        result = run_workflow(workflow, parameters, local, folder.resolve(), concurrency=concurrency,
                              progress=typer.echo)
    except (RunLocalError, KeyError) as exc:
        typer.echo(f"r2a run-local: error: {exc}", err=True)
        raise typer.Exit(2) from None
    print_nodes(result, typer.echo)
    raise typer.Exit(0 if result.phase == "Succeeded" else 1)


def main() -> None:
    app()
