"""No secret value in any log line, result file, report, rendered or dry-run manifest, or error text.

The whole rendered DAG runs (run-local) on devstack as a Redshift user with a distinctive password; devstack's own
random AlloyDB password, S3 secret key and the bastion's private key are the other secrets searched for. Then the
steps are run with wrong distinctive passwords, whose error lines must name the problem without the value.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devstack import env as devstack_env
from shared.config import load_settings
from shared.objectstore import ObjectStore, RunLayout, new_run_id
from workflows.cli import app
from workflows.demo import copy_report, reset_target
from workflows.local_env import devstack_environment, process_environ
from workflows.render import RENDERED_DIR
from workflows.run_local import RENDERED, run_workflow

REDSHIFT_USER = "leak_probe"
REDSHIFT_PASSWORD = "Sentinel-Redshift-Pw-7f3a9"
WRONG_PASSWORD = "Wrong-Sentinel-Pw-42c81e"
ARGO_TOKEN = "Sentinel-Argo-Token-0d9e1"


def _secrets(env: dict) -> dict[str, str]:
    key_lines = [line for line in Path(env["ssh"]["private_key_file"]).read_text().splitlines()
                 if line and not line.startswith("-----")]
    return {"Redshift password": REDSHIFT_PASSWORD, "AlloyDB password": env["postgres"]["password"],
            "S3 secret key": env["s3"]["secret_access_key"], "SSH private key": max(key_lines, key=len)}


def _leaks(texts: dict[str, str], secrets: dict[str, str]) -> list[str]:
    return [f"{name} in {where}" for where, text in texts.items() for name, value in secrets.items() if value in text]


@pytest.fixture(scope="module")
def probed_run(devstack, sample_redshift, tmp_path_factory):
    conn = __import__("psycopg2").connect(
        host=devstack["redshift"]["host"], port=devstack["redshift"]["port"],
        dbname=devstack["redshift"]["database"], user=devstack["redshift"]["user"],
        password=devstack["redshift"]["password"], sslmode="disable")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("select usename from pg_user where usename = %s", (REDSHIFT_USER,))
        if not cursor.fetchone():
            cursor.execute(f"create user {REDSHIFT_USER} password %s", (REDSHIFT_PASSWORD,))
    conn.close()
    env = copy.deepcopy(devstack)
    env["redshift"].update(user=REDSHIFT_USER, password=REDSHIFT_PASSWORD)
    reset_target(env)
    parameters, local = devstack_environment(env)
    parameters["run-id"] = new_run_id(parameters["database"])
    work = tmp_path_factory.mktemp("secrets")
    result = run_workflow(RENDERED / "workflow-local.yaml", parameters, local, work / "run",
                          progress=lambda message: None)
    copy_report(env, result.run_id, work / "report")
    return env, result, work


def test_no_secret_in_logs_results_reports_or_backups(probed_run, matrix):
    env, result, work = probed_run
    outcome = matrix.secrets("full run: task logs, run folder, report copies", "run-local + GCS")
    assert result.phase == "Succeeded", [(n.name, n.log) for n in result.failed_nodes]
    texts = {str(p): p.read_text(errors="replace") for p in work.rglob("*") if p.is_file()}
    settings = load_settings(devstack_env.product_environ(env))
    store = ObjectStore(settings.s3, settings.gcs)
    layout = RunLayout.from_settings(result.run_id, settings.gcs, settings.s3)
    for info in store.list(layout.root):
        if not info.url.endswith((".gz", ".zst")):
            texts[info.url] = store.read_bytes(info.url).decode(errors="replace")
    assert len([p for p in texts if p.endswith(".log")]) >= 7 and any("results/" in p for p in texts)
    assert not result.pods.exists(), "secret files must be gone after the run"
    # the search itself finds secrets where they are meant to be (devstack's env.sh holds the AlloyDB password)
    env_sh = (Path(env["state_dir"]) / "env.sh").read_text()
    assert _leaks({"env.sh": env_sh}, _secrets(env)) == ["AlloyDB password in env.sh", "S3 secret key in env.sh"]
    leaks = _leaks(texts, _secrets(env))
    outcome.leaked = len(leaks)
    outcome.observed = f"searched {len(texts)} files/objects: {len(leaks)} leak(s) {leaks[:3]}"
    assert leaks == []


def test_no_secret_in_rendered_or_dry_run_manifests(probed_run, matrix):
    env = probed_run[0]
    outcome = matrix.secrets("rendered manifests and submit --dry-run", "workflows/rendered, r2a CLI")
    texts = {str(p): p.read_text() for p in RENDERED_DIR.glob("*.yaml")}
    done = CliRunner().invoke(app, ["submit", "--dry-run", "-p", "database=dev"],
                              env={"ARGO_SERVER": "127.0.0.1:9", "ARGO_TOKEN": ARGO_TOKEN})
    texts["submit --dry-run"] = done.output
    failed = CliRunner().invoke(app, ["submit"], env={"ARGO_SERVER": "127.0.0.1:9", "ARGO_TOKEN": ARGO_TOKEN})
    texts["submit to an unreachable server"] = failed.output
    leaks = _leaks(texts, {**_secrets(env), "Argo token": ARGO_TOKEN})
    outcome.leaked = len(leaks)
    outcome.observed = f"{len(texts)} texts, {len(leaks)} leak(s)"
    assert done.exit_code == 0 and failed.exit_code != 0
    assert leaks == []


@pytest.mark.parametrize(("step", "variable"), [("dump_schema", "REDSHIFT_PASSWORD"),
                                                ("load_schema", "PGPASSWORD")])
def test_a_wrong_password_is_named_never_shown(probed_run, devstack, step, variable, matrix):
    outcome = matrix.secrets(f"wrong {variable} → error line", step)
    environ = {**process_environ(), **devstack_env.product_environ(devstack), variable: WRONG_PASSWORD, "R2A_LOG_FORMAT": "json"}
    args = [sys.executable, "-m", f"steps.{step}", "--run-id", probed_run[1].run_id]  # a run that exists
    if step == "load_schema":
        args += ["--section", "pre-data"]
    done = subprocess.run(args, env=environ, capture_output=True, text=True, timeout=120)
    texts = {"stdout": done.stdout, "stderr": done.stderr}
    leaks = _leaks(texts, {"wrong password": WRONG_PASSWORD, **_secrets(devstack)})
    outcome.leaked = len(leaks)
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    outcome.observed = last[:120]
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "password" in last.lower()
    assert leaks == []
