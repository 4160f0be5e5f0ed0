"""The `r2a` command: render the Argo manifests, submit runs and retries to the Argo Server, read a run's status,
and run the rendered DAG locally against devstack.

Errors are one line on stderr with the exit codes of shared/errors.py; ARGO_TOKEN never appears in output."""

from __future__ import annotations

from pathlib import Path

import typer

from workflows import render as rendering

app = typer.Typer(help="r2a: Redshift → AlloyDB as an Argo Workflows DAG.", no_args_is_help=True,
                  add_completion=False)


@app.command()
def render(
    out: Path = typer.Option(rendering.RENDERED_DIR, help="folder for the rendered YAML"),
    alloydb_auth_proxy: str = typer.Option(
        None, metavar="INSTANCE_URI",
        help="reach AlloyDB through the AlloyDB Auth Proxy as a sidecar (projects/P/locations/L/clusters/C/"
             "instances/I); then submit with -p alloydb-host=127.0.0.1 -p alloydb-sslmode=disable"),
    image_registry: str = typer.Option(None, help="registry/path of the step images [ghcr.io/r2a]"),
    image_tag: str = typer.Option(None, help="tag of the step images [0.1.0]"),
    image_digests: Path = typer.Option(
        None, metavar="FILE", help="pin every image (steps, postgres sidecar, auth proxy) by digest: one line "
                                   "`image[:tag]@sha256:<digest>` per image"),
) -> None:
    """Write the Argo manifests (WorkflowTemplates, Workflow, CronWorkflow) from the Hera definitions."""
    from shared.errors import R2AError

    try:
        images = rendering.images_option(image_registry, image_tag, image_digests)
        paths = rendering.render(out, alloydb_auth_proxy, images)
    except R2AError as exc:
        _fail("render", exc)
        raise
    for path in paths:
        typer.echo(path)


def _fail(command: str, exc: Exception) -> None:
    from shared.cli import error_line
    from shared.errors import ExitCode, R2AError

    code = int(exc.exit_code) if isinstance(exc, R2AError) else int(ExitCode.BAD_INPUT)
    error_line(command, exc.one_line() if isinstance(exc, R2AError) else str(exc))
    raise typer.Exit(code) from None


def _parameters(pairs: list[str], command: str) -> dict[str, str]:
    from workflows.run_local import RunLocalError, parse_parameters

    try:
        return parse_parameters(pairs)
    except RunLocalError as exc:
        _fail(command, exc)
        raise


def _submit_template(template: str, arguments: dict[str, str], dry_run: bool, command: str) -> str | None:
    """Submit a Workflow running `template` (its name), or print it with --dry-run (None)."""
    from shared.errors import R2AError
    from workflows import argo

    try:
        argo.check_arguments(template, arguments)
    except R2AError as exc:
        _fail(command, exc)
    workflow = argo.template_workflow(template, arguments)
    if dry_run:
        typer.echo(workflow.to_yaml())
        return None
    try:
        return argo.submit(workflow, argo.ArgoServer.from_environ())
    except R2AError as exc:
        _fail(command, exc)
        raise


PARAMETER_HELP = "workflow parameter as name=value (repeatable); see workflows/README.md for the list"


@app.command()
def submit(
    parameter: list[str] = typer.Option([], "--parameter", "-p", help=PARAMETER_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the Workflow manifest instead of submitting it"),
) -> None:
    """Start a migration: submit a Workflow running the redshift-to-alloydb WorkflowTemplate to the Argo Server
    (ARGO_SERVER, ARGO_TOKEN, ARGO_NAMESPACE, as the argo CLI reads them). run-id defaults to <database>_<UTC time>."""
    from shared.objectstore import new_run_id
    from workflows import definitions as d

    arguments = _parameters(parameter, "submit")
    arguments["run-id"] = arguments.get("run-id") or new_run_id(arguments.get("database", "dev"))
    name = _submit_template(d.TEMPLATE_NAME, arguments, dry_run, "submit")
    if name:
        typer.echo(f"submitted {name} (run id {arguments['run-id']}); follow it with `argo watch {name}` "
                   f"or `r2a status --run-id {arguments['run-id']}`")


@app.command("retry-failed")
def retry_failed(
    run_id: str = typer.Option(..., "--run-id", help="the earlier run whose failed or missing tables to transfer"),
    parameter: list[str] = typer.Option([], "--parameter", "-p", help=PARAMETER_HELP),
    local: bool = typer.Option(False, "--local", help="run the retry-failed DAG on this machine against devstack"),
    devstack_dir: Path = typer.Option(None, "--devstack", help="devstack state folder (with --local)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the Workflow manifest instead of submitting it"),
) -> None:
    """Transfer again only the tables of RUN_ID that did not succeed, then rewrite its report (retry-failed
    WorkflowTemplate). Succeeded tables are not touched; skipped tables keep their reason."""
    from shared.errors import R2AError
    from shared.objectstore import check_run_id
    from workflows import definitions as d

    arguments = {**_parameters(parameter, "retry-failed"), "run-id": run_id}
    try:
        check_run_id(run_id)
    except R2AError as exc:
        _fail("retry-failed", exc)
    if local:
        _run_local(rendering.RENDERED_DIR / "workflowtemplate-retry-failed.yaml", arguments, devstack_dir, None,
                   None, "retry-failed")
        return
    name = _submit_template(d.RETRY_TEMPLATE_NAME, arguments, dry_run, "retry-failed")
    if name:
        typer.echo(f"submitted {name}: retrying the unfinished tables of {run_id}")


@app.command()
def status(
    run_id: str = typer.Option(..., "--run-id", help="the run to show"),
    watch: bool = typer.Option(False, "--watch", help="redraw a live table until every planned table has a result"),
    interval: float = typer.Option(10.0, "--interval", min=1.0, help="seconds between redraws with --watch"),
) -> None:
    """Every table of a run with its status, rows, time and error, read from the run's GCS folder
    (R2A_GCS_BUCKET/R2A_GCS_PREFIX), as the report lists them. Exit 0 when every planned table succeeded, 7 when
    some did not."""
    import shutil

    from shared.config import load_settings
    from shared.errors import ExitCode, R2AError
    from shared.objectstore import ObjectStore, RunLayout
    from shared.runstate import RunState, read_run_state
    from workflows import argo, status_view

    states: list[RunState] = []

    def fetch() -> list[argo.TableStatus]:
        states[:] = [read_run_state(store, layout)]
        return [argo.table_status(state) for state in states[0].tables]

    try:
        settings = load_settings()
        layout = RunLayout.from_settings(run_id, settings.gcs)
        store = ObjectStore(None, settings.gcs)
        if watch:
            rows = shutil.get_terminal_size((120, 40)).lines
            status_view.watch(run_id, fetch, typer.echo, interval, rows)
        else:
            tables = fetch()
            for line in status_view.table_lines(tables):
                typer.echo(line)
            typer.echo(status_view.summary(tables))
    except R2AError as exc:
        _fail("status", exc)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if not states[0].all_planned_succeeded:  # the report's exit rule, over the same states
        raise typer.Exit(int(ExitCode.TABLES_FAILED))


def _run_local(workflow: Path, given: dict[str, str], devstack_dir: Path | None, concurrency: int | None,
               workdir: Path | None, command: str, retry: Path | None = None, limits: Path | None = None,
               ran: list | None = None) -> None:
    """Run the workflow on devstack, print its nodes, exit 0 when it succeeded, else 1. `ran` receives (run id,
    devstack's product settings) once the run has started."""
    from devstack import env as devstack_env
    from shared.errors import ConfigError
    from shared.objectstore import new_run_id
    from workflows.local_env import devstack_environment
    from workflows.run_local import RunLocalError, load_result, print_nodes, retry_workflow, run_workflow

    try:
        try:
            env = devstack_env.load(devstack_env.state_dir(devstack_dir))
        except SystemExit as missing:  # devstack says where it looked and how to start it
            raise ConfigError(str(missing)) from None
        parameters, local = devstack_environment(env)
        if limits is not None:
            local.config_map_files = (limits.resolve(),)
        parameters.update(given)
        if retry is not None:
            workflow, previous = load_result(retry.resolve())
            result = retry_workflow(workflow, previous, parameters, local, concurrency=concurrency,
                                    progress=typer.echo)
        else:
            parameters["run-id"] = parameters.get("run-id") or new_run_id(parameters["database"])
            folder = workdir or Path("run-local") / parameters["run-id"]
            result = run_workflow(workflow, parameters, local, folder.resolve(), concurrency=concurrency,
                                  progress=typer.echo)
    except (RunLocalError, ConfigError) as exc:
        _fail(command, exc)
        raise
    print_nodes(result, typer.echo)
    if ran is not None:
        from shared.config import load_settings

        ran.append((result.run_id, load_settings(devstack_env.product_environ(env))))
    raise typer.Exit(0 if result.phase == "Succeeded" else 1)


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
    retry: Path = typer.Option(None, "--retry", help="`argo retry` of the finished run in this work folder: only "
                               "the nodes that did not succeed run again, in the same folder and run"),
    limits: Path = typer.Option(None, "--limits", metavar="FILE",
                                help="ConfigMap manifest with the semaphore limits, read again before each node "
                                     "starts [k8s/limits.yaml]"),
) -> None:
    """Run the rendered DAG on this machine against devstack: each task's container command as a local process."""
    _run_local(workflow, _parameters(parameter, "run-local"), devstack_dir, concurrency, workdir, "run-local",
               retry, limits)


@app.command()
def plan(
    run_id: str = typer.Option(None, "--run-id", help="show this run's plan.json (from an earlier dry run)"),
    parameter: list[str] = typer.Option([], "--parameter", "-p",
                                        help="without --run-id: a dry run on devstack with these workflow "
                                             "parameters (name=value, repeatable), then its plan"),
    devstack_dir: Path = typer.Option(None, "--devstack",
                                      help="devstack state folder [default: $R2A_DEVSTACK_DIR or ./.devstack]"),
) -> None:
    """The plan of a run before a byte moves: tables by size, S3 bytes, egress, objects not migrated, estimate."""
    from shared.config import load_settings
    from shared.documents.run_plan import RunPlan
    from shared.errors import BadInputError, BadStateError, R2AError
    from shared.log import one_line
    from shared.objectstore import ObjectStore, RunLayout
    from shared.plan_text import plan_lines

    environ = None
    if run_id is None:
        given = _parameters(parameter, "plan") | {"dry-run": "true"}
        run_id, environ = _dry_run(given, devstack_dir)
    try:
        settings = load_settings(environ)
        layout = RunLayout.from_settings(run_id, settings.gcs)
        store = ObjectStore(None, settings.gcs)
        if not store.exists(layout.plan_json):
            raise BadStateError(f"{layout.plan_json} does not exist",
                                "Run the workflow with -p dry-run=true (or r2a plan -p …) first")
        try:
            plan = RunPlan.read(store, layout.plan_json)
        except BadInputError as exc:
            raise BadStateError(f"{layout.plan_json} is not a plan: {exc.reason}", "Run the dry run again") from None
        lines = plan_lines(plan.to_json())
    except R2AError as exc:
        _fail("plan", exc)
        raise
    except (KeyError, TypeError, ValueError) as exc:
        _fail("plan", BadStateError(f"{layout.plan_json} is not a plan: {one_line(exc, 100)}",
                                    "Run the dry run again"))
        raise
    for line in lines:
        typer.echo(line)


def _dry_run(given: dict[str, str], devstack_dir: Path | None) -> tuple[str, dict[str, str]]:
    """Run the rendered DAG with dry-run=true on devstack: (run id, devstack's product settings); exit 1 when it
    did not succeed."""
    from devstack import env as devstack_env
    from shared.errors import ConfigError
    from shared.objectstore import new_run_id
    from workflows.local_env import devstack_environment
    from workflows.run_local import RunLocalError, print_nodes, run_workflow

    try:
        try:
            env = devstack_env.load(devstack_env.state_dir(devstack_dir))
        except SystemExit as missing:
            raise ConfigError(str(missing)) from None
        parameters, local = devstack_environment(env)
        parameters.update(given)
        parameters["run-id"] = parameters.get("run-id") or new_run_id(parameters["database"])
        folder = (Path("run-local") / parameters["run-id"]).resolve()
        result = run_workflow(rendering.RENDERED_DIR / "workflow-local.yaml", parameters, local, folder,
                              progress=lambda message: None)
    except (RunLocalError, ConfigError) as exc:
        _fail("plan", exc)
        raise
    if result.phase != "Succeeded":
        print_nodes(result, typer.echo)
        raise typer.Exit(1)
    return result.run_id, devstack_env.product_environ(env)


def main() -> None:
    app()


sync_config_app = typer.Typer(help="The sync config: which tables a scheduled run syncs incrementally.",
                              no_args_is_help=True)
app.add_typer(sync_config_app, name="sync-config")


@sync_config_app.command("init")
def sync_config_init(
    run_id: str = typer.Option(None, "--run-id", help="read catalog.json from this run's GCS folder"),
    catalog: Path = typer.Option(None, "--catalog", help="read this catalog.json instead"),
    out: str = typer.Option("-", "--out", help="where to write it: a file, gs://…, s3://… or - (stdout)"),
) -> None:
    """A starting sync config from a catalog: upsert where a cursor (identity, or a timestamp named like updated_at
    or load_tstamp) and a declared primary key exist, append where only an identity exists, else full with the
    reason. Review it, then pass it to a run with -p sync-config=<where>."""
    import json

    from shared.config import load_settings
    from shared.errors import BadInputError, R2AError
    from shared.objectstore import ObjectStore, RunLayout
    from shared.syncconfig import initial_config

    try:
        if (run_id is None) == (catalog is None):
            raise BadInputError("give exactly one of --run-id or --catalog")
        store = None
        if run_id is not None or "://" in out:
            settings = load_settings()
            store = ObjectStore(settings.s3, settings.gcs)
        if catalog is not None:
            if not catalog.is_file():
                raise BadInputError(f"--catalog {catalog}: no such file")
            try:
                document = json.loads(catalog.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise BadInputError(f"--catalog {catalog}: not JSON ({exc})") from None
        else:
            document = store.read_json(RunLayout.from_settings(run_id, settings.gcs).catalog_json)
        if not isinstance(document, dict):
            raise BadInputError("the catalog is not a JSON object")
        text = initial_config(document).to_json()
        if out == "-":
            typer.echo(text, nl=False)
        elif "://" in out:
            store.write_text(out, text, "application/json")
        else:
            Path(out).write_text(text, encoding="utf-8")
    except R2AError as exc:
        _fail("sync-config init", exc)


@app.command()
def cutover(
    parameter: list[str] = typer.Option([], "--parameter", "-p", help=PARAMETER_HELP),
    local: bool = typer.Option(False, "--local", help="run it on this machine against devstack, then print its verdict"),
    devstack_dir: Path = typer.Option(None, "--devstack", help="devstack state folder (with --local)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the Workflow manifest instead of submitting it"),
) -> None:
    """The final sync before cutting over (cutover WorkflowTemplate): the migration with the sync config as given
    (synced tables merge their last window, the others reload), every table verified by checksum over the whole
    table, post-data with the identity reseed, then the readiness verdict, written to report/readiness.json. On a
    cluster it is submitted (its report step prints the verdict; `r2a readiness --run-id` prints it again); --local
    runs it, prints the verdict and exits 0 when ready, 7 when not (1 when ready but another task of the run
    failed)."""
    from shared.objectstore import new_run_id
    from workflows import definitions as d

    arguments = _parameters(parameter, "cutover")
    if not local:
        arguments["run-id"] = arguments.get("run-id") or new_run_id(arguments.get("database", "dev"))
        name = _submit_template(d.CUTOVER_TEMPLATE_NAME, arguments, dry_run, "cutover")
        if name:
            typer.echo(f"submitted {name} (run id {arguments['run-id']}); once it has finished: "
                       f"r2a readiness --run-id {arguments['run-id']}")
        return
    ran: list = []
    succeeded = False
    try:
        _run_local(rendering.RENDERED_DIR / f"workflowtemplate-{d.CUTOVER_TEMPLATE_NAME}.yaml", arguments,
                   devstack_dir, None, None, "cutover", ran=ran)
    except typer.Exit as done:
        if not ran:  # the run could not start: its one-line error is out
            raise
        succeeded = done.exit_code == 0
    run_id, settings = ran[0]
    _judge(run_id, settings, "cutover", written_by_run=True, run_failed=not succeeded)


def _judge(run_id: str, settings, command: str, written_by_run: bool = False, run_failed: bool = False) -> None:
    """Print the run's readiness (and write it, unless its report step already did); exit 7 unless ready, 1 when
    it is ready but the run failed elsewhere."""
    from shared.documents.readiness import Readiness
    from shared.errors import ExitCode, R2AError
    from shared.objectstore import ObjectStore, RunLayout
    from shared.readiness import readiness_lines, write_readiness

    try:
        layout = RunLayout.from_settings(run_id, settings.gcs)
        store = ObjectStore(None, settings.gcs)
        url = layout.readiness_json
        document = Readiness.read(store, url) if written_by_run and store.exists(url) \
            else write_readiness(store, layout)
    except R2AError as exc:
        _fail(command, exc)
        raise
    for line in readiness_lines(document):
        typer.echo(line)
    if not document.ready:
        raise typer.Exit(int(ExitCode.TABLES_FAILED))
    if run_failed:
        raise typer.Exit(int(ExitCode.FAILED))


@app.command()
def readiness(
    run_id: str = typer.Option(..., "--run-id", help="the run (a final sync with -p verify=checksum) to judge"),
) -> None:
    """Cut-over readiness of a finished run: every table ✓ (succeeded, verified by checksum) or ✗ with the reason,
    its mode, watermark and lag at the start of the run, and the objects not migrated; written to
    report/readiness.json. Exit 0 when ready, 7 when not."""
    from shared.config import load_settings
    from shared.errors import R2AError

    try:
        settings = load_settings()
    except R2AError as exc:
        _fail("readiness", exc)
        raise
    _judge(run_id, settings, "readiness")
