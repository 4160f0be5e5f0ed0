"""Connections to devstack's Redshift emulator, over the wire like the product connects."""

from __future__ import annotations

import os
import subprocess
import uuid

import psycopg2
import pytest


def connect(redshift: dict, **overrides):
    params = {"host": redshift["host"], "port": redshift["port"], "dbname": redshift["database"],
              "user": redshift["user"], "password": redshift["password"], "sslmode": "disable",
              "connect_timeout": 10}
    params.update(overrides)
    conn = psycopg2.connect(**params)
    conn.autocommit = True
    return conn


@pytest.fixture
def rs(redshift):
    conn = connect(redshift)
    yield conn
    conn.close()


@pytest.fixture
def schema(rs):
    """A fresh schema, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    with rs.cursor() as cur:
        cur.execute(f"create schema {name}")
    yield name
    with rs.cursor() as cur:
        cur.execute(f"drop schema {name} cascade")


def one(conn, sql: str, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def rows(conn, sql: str, params=None) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def psql(devstack: dict, redshift: dict, *args: str, password: str | None = None,
         script: str | None = None) -> subprocess.CompletedProcess:
    """Run devstack's psql (the pgserver binary) against the emulator."""
    binary = os.path.join(devstack["postgres"]["bin_dir"], "psql")
    env = dict(os.environ, PGPASSWORD=password or redshift["password"], PGSSLMODE="disable", PGCONNECT_TIMEOUT="10")
    return subprocess.run([binary, "-X", "-h", redshift["host"], "-p", str(redshift["port"]), "-U", redshift["user"],
                           "-d", redshift["database"], *args], capture_output=True, text=True, env=env, timeout=60,
                          input=script)
