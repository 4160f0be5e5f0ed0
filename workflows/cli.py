"""The `r2a` command. Implemented so far: `r2a render`. submit, retry-failed, status and run-local are
issue 8's remaining work (see workflows/README.md); they are not offered until they work."""

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


@app.callback()
def _root() -> None:
    """Keeps subcommand syntax (`r2a render`) while only one command exists."""


def main() -> None:
    app()
