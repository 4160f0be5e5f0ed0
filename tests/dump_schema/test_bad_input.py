"""dump_schema's failures reach the user as one line and a typed exit code; nothing is written to the run."""

from __future__ import annotations

import socket

from shared.config import load_settings
from shared.errors import ExitCode
from shared.objectstore import ObjectStore, RunLayout
from tests.support.steps import one_error_line, run_step


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def outputs(environ: dict, run_id: str) -> list[bool]:
    settings = load_settings(environ)
    store, layout = ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs)
    return [store.exists(layout.catalog_json), store.exists(layout.schema_redshift_sql)]


def test_unreachable_redshift(devstack_environ, run_id):
    environ = {**devstack_environ, "REDSHIFT_HOST": "127.0.0.1", "REDSHIFT_PORT": str(closed_port()),
               "REDSHIFT_DATABASE": "dev", "REDSHIFT_USER": "awsuser", "REDSHIFT_PASSWORD": "x"}
    environ = {k: v for k, v in environ.items() if not k.startswith("SSH_BASTION_")}
    done = run_step("steps.dump_schema", ["--run-id", run_id], environ)
    assert done.returncode == ExitCode.FAILED  # transient: Argo retries a refused connection
    assert "cannot connect to Redshift at 127.0.0.1" in one_error_line(done, "dump_schema")
    assert outputs(environ, run_id) == [False, False]


def test_wrong_password(devstack, devstack_environ, run_id):
    # devstack's PostgreSQL speaks the same wire protocol and refuses a wrong password the same way
    postgres = devstack["postgres"]
    environ = {**devstack_environ, "REDSHIFT_HOST": postgres["host"], "REDSHIFT_PORT": str(postgres["port"]),
               "REDSHIFT_DATABASE": "postgres", "REDSHIFT_USER": postgres["user"],
               "REDSHIFT_PASSWORD": "not-the-password", "REDSHIFT_SSLMODE": "disable"}
    environ = {k: v for k, v in environ.items() if not k.startswith("SSH_BASTION_")}
    done = run_step("steps.dump_schema", ["--run-id", run_id], environ)
    assert done.returncode == ExitCode.BAD_CONFIG
    line = one_error_line(done, "dump_schema")
    assert "wrong user or password" in line and "not-the-password" not in done.stderr
    assert outputs(environ, run_id) == [False, False]


def test_invalid_tables_regex(devstack_environ, run_id):
    done = run_step("steps.dump_schema", ["--run-id", run_id, "--tables", "(["], devstack_environ)
    assert done.returncode == ExitCode.BAD_CONFIG  # a flag's value is configuration, in every step
    assert "--tables '([' is not a valid regular expression" in one_error_line(done, "dump_schema")


def test_missing_redshift_settings(devstack_environ, run_id):
    environ = {k: v for k, v in devstack_environ.items() if not k.startswith("REDSHIFT_")}
    done = run_step("steps.dump_schema", ["--run-id", run_id], environ)
    assert done.returncode == ExitCode.BAD_CONFIG
    assert "REDSHIFT_HOST" in one_error_line(done, "dump_schema")


def test_a_postgresql_that_is_not_redshift(devstack, devstack_environ, run_id):
    """Plain PostgreSQL lacks Redshift's settings and catalog: one line at the first Redshift-only statement, exit 4."""
    postgres = devstack["postgres"]
    environ = {**devstack_environ, "REDSHIFT_HOST": postgres["host"], "REDSHIFT_PORT": str(postgres["port"]),
               "REDSHIFT_DATABASE": "postgres", "REDSHIFT_USER": postgres["user"],
               "REDSHIFT_PASSWORD": postgres["password"], "REDSHIFT_SSLMODE": "disable"}
    environ = {k: v for k, v in environ.items() if not k.startswith("SSH_BASTION_")}
    done = run_step("steps.dump_schema", ["--run-id", run_id], environ)
    assert done.returncode == ExitCode.SOURCE
    line = one_error_line(done, "dump_schema")
    assert "refused SET enable_case_sensitive_identifier" in line and "unrecognized configuration parameter" in line
    assert postgres["password"] not in done.stderr
    assert outputs(environ, run_id) == [False, False]


def test_through_the_ssh_bastion(devstack, devstack_environ, run_id):
    """With SSH_BASTION_* set the connection goes through the real SSH tunnel (same answer, same one line)."""
    assert devstack_environ.get("SSH_BASTION_HOST"), "devstack exports the bastion settings"
    postgres = devstack["postgres"]
    environ = {**devstack_environ, "REDSHIFT_HOST": postgres["host"], "REDSHIFT_PORT": str(postgres["port"]),
               "REDSHIFT_DATABASE": "postgres", "REDSHIFT_USER": postgres["user"],
               "REDSHIFT_PASSWORD": "wrong-through-the-tunnel", "REDSHIFT_SSLMODE": "disable"}
    done = run_step("steps.dump_schema", ["--run-id", run_id], environ)
    assert done.returncode == ExitCode.BAD_CONFIG
    line = one_error_line(done, "dump_schema")
    assert "wrong user or password" in line and f"via bastion {devstack_environ['SSH_BASTION_HOST']}" in line


def test_wrong_password_at_the_redshift_emulator(devstack_environ, run_id):
    """The same refusal from the Redshift emulator itself (md5 authentication, as Redshift asks for it)."""
    environ = {**devstack_environ, "REDSHIFT_PASSWORD": "wrong-at-redshift-7"}
    assert environ["REDSHIFT_HOST"] and environ["REDSHIFT_USER"]
    done = run_step("steps.dump_schema", ["--run-id", run_id], environ)
    assert done.returncode == ExitCode.BAD_CONFIG
    line = one_error_line(done, "dump_schema")
    assert "wrong user or password" in line and "wrong-at-redshift-7" not in done.stderr
    assert outputs(environ, run_id) == [False, False]
