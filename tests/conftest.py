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

# Every collected test is in exactly one tier: `live` (it needs devstack: it requests the devstack fixture, found
# here, or starts a private devstack, marked by hand), `long` (minutes without devstack, marked by hand), or `fast`
# (everything else, only ever set here). `make test-fast` runs `-m fast` with devstack forbidden
# (R2A_NO_DEVSTACK: a fast test that starts a service fails), so nothing can drop out of both tiers unseen.
TIERS = {
    "live": "needs devstack (set for tests using the devstack fixture; by hand for a private devstack)",
    "long": "minutes long without devstack; left out of make test-fast",
    "fast": "needs no devstack and is quick: make test-fast (set by tests/conftest.py only)",
}


def pytest_configure(config):
    for name, doc in TIERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")


def tier(item) -> str:
    if "devstack" in getattr(item, "fixturenames", ()) or item.get_closest_marker("live"):
        return "live"
    return "long" if item.get_closest_marker("long") else "fast"


_TIER_COUNTS = pytest.StashKey[dict]()


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these markers
def pytest_collection_modifyitems(config, items):
    counts = dict.fromkeys(TIERS, 0)
    for item in items:
        if item.get_closest_marker("fast"):
            raise pytest.UsageError(f"{item.nodeid}: the fast tier is what is neither live nor long; "
                                    "do not mark it by hand")
        name = tier(item)
        item.add_marker(name)
        counts[name] += 1
    config.stash[_TIER_COUNTS] = counts


def pytest_terminal_summary(terminalreporter, config):
    counts = config.stash.get(_TIER_COUNTS, None)
    if counts:
        tiers = ", ".join(f"{name} {count}" for name, count in counts.items())
        terminalreporter.write_line(f"tiers of the {sum(counts.values())} collected tests: {tiers}")


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
