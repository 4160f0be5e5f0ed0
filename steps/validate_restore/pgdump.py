"""The real `pg_dump --schema-only` of the scratch database: the second SQL backup, as the old system kept it.

pg_dump refuses a server of a newer major version than itself, so the binary is chosen by version:
R2A_PG_DUMP when set (and only it), else `pg_dump` on PATH, else the one shipped in the pgserver wheel (devstack
and tests), whichever first is at least the server's major version. The password travels in PGPASSWORD, never
on the command line where `ps` would show it.

A pg_dump older than its branch's security floor (`SECURITY_FLOOR`) is refused: pg_dump reads a server that has just
run DDL written from hostile Redshift text, and its dump is meant to be replayed with psql. The pgserver wheel's
pg_dump is the one exception: it is a development dependency (no step image installs it, tests/images checks
that) used against devstack's own throw-away server, so it is taken with a `pg_dump.below_security_floor` warning.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg2.extensions

from shared.config import general_setting, setting_env
from shared.errors import ConfigError, R2AError
from shared.log import event

PG_DUMP_ENV = setting_env("pg_dump")
SECTIONS = ("pre-data", "post-data")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


# The first release of each supported branch with the fixes for pg_dump's and libpq's known CVEs: CVE-2024-7348
# (pg_dump TOCTOU, 16.4), CVE-2025-8714/8715 (meta-commands and newlines injected into dump files, 16.10) and
# CVE-2026-6477 (libpq lo_* stack overwrite by a hostile server, reached by pg_dump; 18.4, 17.10, 16.14, 15.18,
# 14.23: https://www.postgresql.org/about/news/postgresql-184-1710-1614-1518-and-1423-released-3297/).
# Branches older than 14 no longer get fixes; branches newer than 18 have no known issue.
SECURITY_FLOOR = {14: 23, 15: 18, 16: 14, 17: 10, 18: 4}
OLDEST_SUPPORTED = min(SECURITY_FLOOR)


@dataclass(frozen=True)
class PgDump:
    path: str
    version: str
    major: int

    @property
    def minor(self) -> int:
        parts = self.version.split(".")
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    def below_floor(self) -> str | None:
        """Why this pg_dump must not be used, or None."""
        if self.major < OLDEST_SUPPORTED:
            return f"pg_dump {self.version} is of a PostgreSQL branch that no longer gets security fixes"
        floor = SECURITY_FLOOR.get(self.major)
        if floor is not None and self.minor < floor:
            return f"pg_dump {self.version} is older than {self.major}.{floor}, the first release with its known CVEs fixed"
        return None


def pg_dump_version(path: str) -> PgDump | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    if not match:
        return None
    return PgDump(path, match.group(0).split()[-1], int(match.group(1)))


def _pgserver_pg_dump() -> str | None:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.origin:
        return None
    candidate = Path(spec.origin).parent / "pginstall" / "bin" / "pg_dump"
    return str(candidate) if candidate.is_file() else None


def find_pg_dump(server_major: int, environ: Mapping[str, str] | None = None) -> PgDump:
    """A pg_dump able to dump a server of `server_major`; ConfigError naming what was found otherwise."""
    environ = os.environ if environ is None else environ
    explicit = general_setting("pg_dump", environ)
    if explicit:
        found = pg_dump_version(explicit)
        if found is None:
            raise ConfigError(f"{PG_DUMP_ENV}={explicit!r} is not a runnable pg_dump")
        if found.major < server_major:
            raise ConfigError(f"{PG_DUMP_ENV} is pg_dump {found.version}, older than the scratch server "
                              f"(PostgreSQL {server_major})", "Point it at a pg_dump of the target's major version")
        if found.below_floor():
            raise ConfigError(f"{PG_DUMP_ENV}: {found.below_floor()}", "Install the branch's latest minor release")
        return found
    seen = []
    development = _pgserver_pg_dump()
    for path in (shutil.which("pg_dump", path=environ.get("PATH")), development):
        found = pg_dump_version(path) if path else None
        if found is None:
            continue
        problem = found.below_floor()
        if found.major >= server_major and (problem is None or path == development):
            if problem:
                event("pg_dump.below_security_floor", level=logging.WARNING, path=found.path, reason=problem)
            return found
        seen.append(f"{found.path} ({found.version}{': ' + problem if problem else ''})")
    raise ConfigError(f"no pg_dump of PostgreSQL {server_major} or newer found"
                      + (f"; only {', '.join(seen)}" if seen else ""),
                      f"Install postgresql-client-{server_major} or set {PG_DUMP_ENV}")


def dump_schema(pg_dump: PgDump, dsn: str, section: str | None = None, timeout_s: int = 3600) -> str:
    """`pg_dump --schema-only` of the database at `dsn` (one section, or all of it)."""
    params = psycopg2.extensions.parse_dsn(dsn)
    password = params.pop("password", None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if password:
        env["PGPASSWORD"] = password
    command = [pg_dump.path, "--schema-only", "--no-owner", "--no-password",
               "--dbname", psycopg2.extensions.make_dsn(**params)]
    if section:
        command.append(f"--section={section}")
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise R2AError(f"pg_dump of the scratch database took longer than {timeout_s} s", transient=True) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise R2AError(f"pg_dump of the scratch database failed: {lines[-1] if lines else done.returncode}",
                       transient=True)
    return done.stdout
