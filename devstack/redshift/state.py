"""What all sessions of one emulator share: the metadata bootstrap, fault switches, long-name map, logins."""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from importlib import resources

import psycopg2

from devstack.redshift.config import Config
from devstack.redshift.faults import FaultPlan

MAX_BACKEND_NAME = 63


def backend_name(name: str) -> str:
    """PostgreSQL's name for a Redshift identifier: itself if it fits in 63 bytes, else a stable shortening that
    keeps names apart which only differ after byte 63."""
    if len(name.encode()) <= MAX_BACKEND_NAME:
        return name
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:12]
    head = name.encode()[:48].decode(errors="ignore")
    return f"{head}_{digest}"


@dataclass
class Fault:
    kind: str          # unload_fail | unload_stall | disconnect | query_fail | query_pause | unload_escape_null_as
    table: str         # schema.table or table, lower case
    argument: str


class Faults:
    KINDS = ("unload_fail", "unload_stall", "disconnect", "query_fail", "query_pause", "unload_escape_null_as")

    def __init__(self):
        self.lock = threading.Lock()
        self.items: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self.lock:
            self.items.append(fault)

    def clear(self) -> int:
        with self.lock:
            count = len(self.items)
            self.items.clear()
            return count

    def matching(self, relations: set[str]) -> list[Fault]:
        """Faults whose table appears among `relations` (names as 'schema.table' and bare 'table')."""
        with self.lock:
            return [f for f in self.items if f.table in relations]

    def plan(self, relations: set[str]) -> FaultPlan:
        fail, stall, cut, escape_null_as = None, 0.0, None, False
        for fault in self.matching(relations):
            if fault.kind == "unload_fail":
                fail = fault.argument or "fault injected: UNLOAD failed"
            elif fault.kind == "unload_stall":
                stall = max(stall, float(fault.argument or 30))
            elif fault.kind == "disconnect":
                cut = int(fault.argument or 0)
            elif fault.kind == "unload_escape_null_as":
                escape_null_as = True
        return FaultPlan(fail_unload=fail, stall_seconds=stall, cut_connection_after_rows=cut,
                         escape_null_as=escape_null_as)


class LongNames:
    """Redshift names longer than 63 bytes, by their backend name (persisted in r2a_emulator.long_names)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_short: dict[str, str] = {}

    def load(self, conn) -> None:
        with conn.cursor() as cur:
            cur.execute("select short_name, long_name from r2a_emulator.long_names")
            rows = cur.fetchall()
        with self.lock:
            self.by_short.update(dict(rows))

    def known(self, short: str) -> bool:
        with self.lock:
            return short in self.by_short

    def remember(self, short: str, long: str) -> None:
        with self.lock:
            self.by_short[short] = long

    def original(self, short: str) -> str:
        with self.lock:
            return self.by_short.get(short, short)


class Users:
    """Password checks: the master user from the command line, others from CREATE USER (md5 hashes)."""

    def __init__(self, config: Config):
        self.config = config

    def password_ok(self, user: str, answer: str, salt: bytes) -> bool:
        if user == self.config.master_user:
            return hmac.compare_digest(answer, _md5_answer(_md5_hash(self.config.master_password, user), salt))
        stored = self._stored_hash(user)
        if not stored:
            return False
        return hmac.compare_digest(answer, _md5_answer(stored, salt))

    def _stored_hash(self, user: str) -> str | None:
        try:
            conn = psycopg2.connect(self.config.backend_dsn)
        except psycopg2.Error:
            return None
        try:
            with conn.cursor() as cur:
                cur.execute("select password_md5 from r2a_emulator.users where usename = %s", (user,))
                row = cur.fetchone()
            return row[0] if row else None
        finally:
            conn.close()


def _md5_hash(password: str, user: str) -> str:
    return "md5" + hashlib.md5((password + user).encode()).hexdigest()  # nosec B324  # PostgreSQL's md5 password authentication, which the emulator speaks: the protocol fixes the hash


def _md5_answer(stored: str, salt: bytes) -> str:
    return "md5" + hashlib.md5(stored[3:].encode() + salt).hexdigest()  # nosec B324  # PostgreSQL's md5 password authentication, which the emulator speaks: the protocol fixes the hash


def user_password_hash(password: str, user: str) -> str:
    """CREATE USER accepts a clear password or 'md5' + md5(password + user); both are stored hashed."""
    if password.startswith("md5") and len(password) == 35:
        return password
    return _md5_hash(password, user)


class ServerState:
    def __init__(self, config: Config):
        self.config = config
        self.faults = Faults()
        self.long_names = LongNames()
        self.users = Users(config)

    def bootstrap(self) -> None:
        """Install the metadata schema, Redshift's functions and catalog views in the backend database."""
        script = resources.files("devstack.redshift").joinpath("catalog.sql").read_text()
        conn = psycopg2.connect(self.config.backend_dsn)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("select pg_advisory_lock(727272)")
                try:
                    cur.execute("set standard_conforming_strings = on")
                    cur.execute(script)
                finally:
                    cur.execute("select pg_advisory_unlock(727272)")
                settings = {"master_user": self.config.master_user, "database": self.config.database,
                            "version": self.config.version_string, "slices": str(self.config.slices)}
                for name, value in settings.items():
                    cur.execute("insert into r2a_emulator.settings values (%s, %s) "
                                "on conflict (name) do update set value = excluded.value", (name, value))
            self.long_names.load(conn)
        finally:
            conn.close()

    def remember_long_name(self, short: str, long: str) -> None:
        if self.long_names.known(short):
            return
        conn = psycopg2.connect(self.config.backend_dsn)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("insert into r2a_emulator.long_names values (%s, %s) on conflict do nothing",
                            (short, long))
        finally:
            conn.close()
        self.long_names.remember(short, long)
