"""Bring the whole devstack up (idempotently), report its status, stop or restart one service, tear it down.

Every service records its pid and port in env.json; `down` stops exactly those pids. A restarted service keeps
its port and credentials, so running clients see an outage, not a different endpoint (fault tests rely on it);
the S3 emulator keeps everything in memory, so after its restart the bucket is empty and its keys are new.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from devstack import bastion, objectstores, postgres, processes
from devstack import env as envfile

SERVICES = ("postgres", "s3", "gcs", "ssh", "redshift")
REDSHIFT_MODULE = Path(__file__).parent / "redshift" / "__main__.py"
REDSHIFT_MASTER_USER = "awsuser"
REDSHIFT_DATABASE = "dev"
REDSHIFT_SLICES = 4
NO_SERVICES_ENV = "R2A_NO_DEVSTACK"


def _skeleton(state_dir: Path) -> dict:
    return {"state_dir": str(state_dir)}


def up(state_dir: Path | None = None, *, with_redshift: bool = True) -> dict:
    state_dir = envfile.state_dir(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "env.json"
    env = envfile.load(state_dir) if path.exists() else _skeleton(state_dir)
    for name in SERVICES:
        if name == "redshift" and not (with_redshift and REDSHIFT_MODULE.exists()):
            continue
        if not running(env, name):
            start(env, name)
            envfile.save(env)
    envfile.save(env)
    return env


def running(env: dict, name: str) -> bool:
    service = env.get(name) or {}
    return processes.alive(service.get("pid")) and processes.port_open("127.0.0.1", service.get("port", 0))


def start(env: dict, name: str) -> None:
    """Start one service, on its recorded port and with its recorded secrets when it ran before."""
    if os.environ.get(NO_SERVICES_ENV):  # `make test-fast`: a test that needs a service fails, never skips
        raise processes.StartError(f"{name} is not started: {NO_SERVICES_ENV} is set (the fast test tier); "
                                   "a test that starts devstack must be marked live")
    state_dir = Path(env["state_dir"])
    logs = state_dir / "logs"
    service = env.get(name) or {}
    port = service.get("port") or processes.free_port()
    if processes.port_open("127.0.0.1", port) and not processes.wait_closed("127.0.0.1", port, timeout=10):
        port = processes.free_port()  # our service is gone and something else holds its port
    if name == "postgres":
        password = service.get("password") or secrets.token_urlsafe(18)
        data_dir = Path(service.get("data_dir") or postgres.data_dir_for(state_dir))
        if not service.get("password"):  # left by a start that failed before env.json was written
            postgres.purge(data_dir)
        pid = postgres.start(data_dir, port, password, logs)
        env[name] = {"host": "127.0.0.1", "port": port, "user": "postgres", "password": password,
                     "bin_dir": str(postgres.bin_dir()), "databases": dict(postgres.DATABASES), "pid": pid,
                     "data_dir": str(data_dir)}
    elif name == "s3":
        pid, credentials = objectstores.start_s3(port, logs, service or None)
        env[name] = {"endpoint_url": f"http://127.0.0.1:{port}", "port": port, "region": objectstores.S3_REGION,
                     "bucket": objectstores.S3_BUCKET, "pid": pid, **credentials}
    elif name == "gcs":
        pid = objectstores.start_gcs(port, logs, state_dir / "gcs")
        env[name] = {"endpoint_url": f"http://127.0.0.1:{port}", "port": port, "bucket": objectstores.GCS_BUCKET,
                     "project": objectstores.GCS_PROJECT, "pid": pid}
    elif name == "ssh":
        keys = bastion.generate_keys(state_dir / "ssh", port)
        process = processes.spawn("ssh", [sys.executable, "-m", "devstack.bastion", "--port", str(port),
                                          "--host-key", keys["host_key_file"], "--authorized-keys",
                                          keys["authorized_keys_file"], "--user", bastion.USER], logs,
                                  cwd=envfile.REPO_ROOT)
        processes.wait_until("ssh", lambda: processes.port_open("127.0.0.1", port), process, logs)
        env[name] = {"host": "127.0.0.1", "port": port, "user": bastion.USER, "pid": process.pid, **keys}
    elif name == "redshift":
        _start_redshift(env, port, service)
    else:
        raise ValueError(f"unknown devstack service {name!r}")


def _start_redshift(env: dict, port: int, previous: dict) -> None:
    state_dir = Path(env["state_dir"])
    logs = state_dir / "logs"
    password = previous.get("password") or "Aa1" + secrets.token_urlsafe(15)
    s3 = env["s3"]
    argv = [sys.executable, "-m", "devstack.redshift", "--host", "127.0.0.1", "--port", str(port),
            "--backend-dsn", envfile.postgres_dsn(env, env["postgres"]["databases"]["redshift"]),
            "--master-user", REDSHIFT_MASTER_USER, "--master-password", password, "--database", REDSHIFT_DATABASE,
            "--s3-endpoint-url", s3["endpoint_url"], "--s3-region", s3["region"],
            "--s3-access-key-id", s3["access_key_id"], "--s3-secret-access-key", s3["secret_access_key"],
            "--slices", str(REDSHIFT_SLICES), "--state-dir", str(state_dir / "redshift")]
    process = processes.spawn("redshift", argv, logs, cwd=envfile.REPO_ROOT)
    processes.wait_until("redshift", lambda: processes.port_open("127.0.0.1", port), process, logs, timeout=60)
    env["redshift"] = {"host": "127.0.0.1", "port": port, "database": REDSHIFT_DATABASE,
                       "user": REDSHIFT_MASTER_USER, "password": password, "pid": process.pid}


def stop(env: dict, name: str) -> bool:
    service = env.get(name) or {}
    if name == "postgres":
        return postgres.stop(service.get("pid"))
    return processes.stop(service.get("pid"))


def restart(env: dict, name: str) -> None:
    stop(env, name)
    start(env, name)
    envfile.save(env)


def down(state_dir: Path | None = None, *, purge: bool = False) -> list[str]:
    """Stop the services this state folder started (dependents first); returns the names stopped."""
    state_dir = envfile.state_dir(state_dir)
    if not (state_dir / "env.json").exists():
        return []
    env = envfile.load(state_dir)
    stopped = [name for name in reversed(SERVICES) if name in env and stop(env, name)]
    if purge and "postgres" in env:
        postgres.purge(Path(env["postgres"]["data_dir"]))
    return stopped


def status(state_dir: Path | None = None) -> dict[str, bool]:
    state_dir = envfile.state_dir(state_dir)
    env = envfile.load(state_dir) if (state_dir / "env.json").exists() else _skeleton(state_dir)
    return {name: running(env, name) for name in SERVICES if name in env}
