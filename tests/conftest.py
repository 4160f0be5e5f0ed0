"""Session-wide devstack for tests that talk to real services.

Without R2A_DEVSTACK_DIR each test run starts its own devstack in a temporary folder and stops exactly what it
started; with it, the run reuses (or starts) the devstack there and leaves it running for the next run.
"""

from __future__ import annotations

import os
import uuid

import psycopg2
import pytest

from devstack import env as envfile
from devstack import processes, stack


@pytest.fixture(scope="session")
def devstack(tmp_path_factory):
    shared_dir = os.environ.get("R2A_DEVSTACK_DIR")
    directory = envfile.state_dir(shared_dir) if shared_dir else tmp_path_factory.mktemp("devstack")
    env = stack.up(directory, with_redshift=False)
    if stack.REDSHIFT_MODULE.exists() and not stack.running(env, "redshift"):
        try:
            stack.start(env, "redshift")
            envfile.save(env)
        except processes.StartError as exc:  # only the tests that need Redshift fail, with this cause
            env["redshift_error"] = str(exc)
    yield env
    if not shared_dir:
        stack.down(directory, purge=True)


@pytest.fixture(scope="session")
def redshift(devstack) -> dict:
    """The Redshift emulator's endpoint (host, port, database, user, password)."""
    if "redshift" not in devstack:
        pytest.fail(devstack.get("redshift_error", "the Redshift emulator (devstack/redshift) is not available"))
    return devstack["redshift"]


@pytest.fixture(scope="session")
def devstack_environ(devstack) -> dict[str, str]:
    """The product's settings for devstack, as env.sh exports them (not the process environment)."""
    return envfile.product_environ(devstack)


def admin_connection(devstack, database: str = "postgres"):
    conn = psycopg2.connect(envfile.postgres_dsn(devstack, database))
    conn.autocommit = True
    return conn


@pytest.fixture
def fresh_db(devstack):
    """A new empty database on devstack's PostgreSQL, dropped after the test; yields its libpq DSN."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = admin_connection(devstack)
    try:
        with conn.cursor() as cur:
            cur.execute(f'create database "{name}"')
        yield envfile.postgres_dsn(devstack, name)
        with conn.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
    finally:
        conn.close()


@pytest.fixture(scope="session")
def sample_redshift(devstack, redshift):
    """The sample database (TICKIT + edge schema) loaded once at scale 1, seed 42, into the devstack emulator.

    Shared by the whole session: tests must not change the `tickit`/`edge` schemas (use a schema of their own)."""
    from devstack.sample import load

    return load(devstack, scale=1, seed=42)
