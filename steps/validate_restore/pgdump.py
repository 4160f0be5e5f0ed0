"""The real `pg_dump --schema-only` of the scratch database: the second SQL backup, as the old system kept it.

pg_dump refuses a server of a newer major version than itself, so the binary is chosen by version:
R2A_PG_DUMP when set (and only it), else `pg_dump` on PATH, else the one shipped in the pgserver wheel (devstack
and tests), whichever first is at least the server's major version. The password travels in PGPASSWORD, never
on the command line where `ps` would show it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg2.extensions

from shared.errors import ConfigError, R2AError

PG_DUMP_ENV = "R2A_PG_DUMP"
SECTIONS = ("pre-data", "post-data")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgDump:
    path: str
    version: str
    major: int


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
    explicit = environ.get(PG_DUMP_ENV)
    if explicit:
        found = pg_dump_version(explicit)
        if found is None:
            raise ConfigError(f"{PG_DUMP_ENV}={explicit!r} is not a runnable pg_dump")
        if found.major < server_major:
            raise ConfigError(f"{PG_DUMP_ENV} is pg_dump {found.version}, older than the scratch server "
                              f"(PostgreSQL {server_major})", "Point it at a pg_dump of the target's major version")
        return found
    seen = []
    for path in (shutil.which("pg_dump", path=environ.get("PATH")), _pgserver_pg_dump()):
        found = pg_dump_version(path) if path else None
        if found is None:
            continue
        if found.major >= server_major:
            return found
        seen.append(f"{found.path} ({found.version})")
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
