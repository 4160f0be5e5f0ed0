"""One client session's statements: Redshift SQL in, results out, run on the session's backend connection.

The dispatch is on the first words of a statement: emulator commands (faults, UNLOAD, SHOW TABLE/VIEW/PROCEDURE,
users and groups, Redshift DDL) are handled here and in the modules it calls; everything else is translated
(translate.py) and passed to the backend PostgreSQL."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions

from devstack.redshift import commands, ddl, features, roles, show, translate, users
from devstack.redshift.config import Config
from devstack.redshift.faults import CutConnection
from devstack.redshift.lexer import (
    PUNCT,
    STRING,
    SqlSyntaxError,
    Token,
    join,
    significant,
    string_value,
    tokenize,
)
from devstack.redshift.protocol import Column
from devstack.redshift.state import Fault, ServerState

BACKEND_SEARCH_PATH = ("r2a_catalog", "pg_catalog")
APPLICATION_NAME = "r2a-redshift-emulator"
# A transaction reads one snapshot, taken at its first statement, whatever other sessions commit meanwhile
# (https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html: "A database snapshot is created within a
# transaction on the first occurrence of most SELECT statements"; SNAPSHOT isolation is Redshift's default).
# PostgreSQL's READ COMMITTED would take a new snapshot per statement.
SNAPSHOT_ISOLATION = "set default_transaction_isolation = 'repeatable read'"

DEFAULT_SEARCH_PATH = '"$user", public'
TEXT_OID = 25
_CODED_MESSAGE = re.compile(r"^([0-9A-Z]{5}): (.+)$", re.S)
_TX_STATUS = {psycopg2.extensions.TRANSACTION_STATUS_IDLE: "I",
              psycopg2.extensions.TRANSACTION_STATUS_INTRANS: "T",
              psycopg2.extensions.TRANSACTION_STATUS_INERROR: "E",
              psycopg2.extensions.TRANSACTION_STATUS_ACTIVE: "T"}
# Redshift-only settings: SET remembers them, SHOW reads them back, the backend never sees them.
_REDSHIFT_SETTINGS = {"query_group": "unset", "enable_result_cache_for_session": "on",
                      "enable_case_sensitive_identifier": "off", "wlm_query_slot_count": "1",
                      "analyze_threshold_percent": "10", "json_serialization_enable": "false",
                      "describe_field_name_in_uppercase": "off", "enable_case_sensitive_super_attribute": "off",
                      "auto_analyze": "on", "mv_enable_aqmv_for_session": "on", "spectrum_query_maxerror": "0",
                      "use_fips_ssl": "off", "cast_super_null_on_error": "off", "downcase_delimited_identifier": "on",
                      "error_on_nondeterministic_update": "false", "default_geometry_encoding": "2"}

# PostgreSQL settings Redshift does not know: clients that sniff the version with them get an error there
# (graphile/crystal#913 and vscode-postgres#107 quote it for server_version_num, sqlalchemy#9494 for
# standard_conforming_strings), so they get one here instead of the backend's PostgreSQL 16 answer.
_NOT_SHOWN = {"server_version_num", "standard_conforming_strings"}


class EmulatorError(Exception):
    def __init__(self, sqlstate: str, message: str, detail: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.sqlstate, self.message, self.detail, self.hint = sqlstate, message, detail, hint


class BackendLost(Exception):
    """The backend connection broke; the session ends with a FATAL error."""


@dataclass
class Result:
    columns: list[Column] | None
    rows: Iterable[tuple]
    tag: str


def text_result(column: str, values: list[str | None], tag: str | None = None) -> Result:
    return Result([Column(column, TEXT_OID)], [(v,) for v in values], tag or f"SELECT {len(values)}")


def _use_text_values(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("select oid from pg_type")
        oids = tuple(row[0] for row in cur.fetchall())
    text = psycopg2.extensions.new_type(oids, "REDSHIFT_TEXT", lambda value, _cursor: value)
    psycopg2.extensions.register_type(text, conn)
    array = psycopg2.extensions.new_array_type(oids, "REDSHIFT_TEXT_ARRAY", text)
    del array  # arrays come back as their text form too: the element caster never sees them


class Engine:
    def __init__(self, config: Config, state: ServerState, user: str, notice: Callable[[str, str], None],
                 cancel_session: Callable[[int, str, bool], bool] | None = None):
        self.config = config
        self.cancel_session = cancel_session
        self.state = state
        self.user = user
        self.notice = notice
        self.settings: dict[str, str] = {}
        self.search_path = DEFAULT_SEARCH_PATH
        self.cancel_event = threading.Event()
        try:
            self.conn = psycopg2.connect(config.backend_dsn, application_name=APPLICATION_NAME)
        except psycopg2.Error as exc:
            raise BackendLost(f"the emulator's backend database is not reachable: {exc.pgerror or exc}") from None
        self.conn.autocommit = True
        _use_text_values(self.conn)
        with self.conn.cursor() as cur:
            cur.execute("set timezone = 'UTC'; set datestyle = 'ISO, MDY'; set extra_float_digits = 0; "
                        "set standard_conforming_strings = off; set escape_string_warning = off; "
                        "set check_function_bodies = off; set intervalstyle = 'postgres'; " + SNAPSHOT_ISOLATION)
            cur.execute(self._search_path_sql(self.search_path))

    def set_session_pid(self, pid: int) -> None:
        """The pid clients know this session by (BackendKeyData, CANCEL), on the backend connection so that
        SVV_TRANSACTIONS can name the session that holds or awaits a lock."""
        self.run("select pg_catalog.set_config('application_name', %s, false)", (f"{APPLICATION_NAME} pid={pid}",))

    # ------------------------------------------------------------------ session plumbing

    @staticmethod
    def _search_path_sql(user_path: str) -> str:
        return f"set search_path to {', '.join(BACKEND_SEARCH_PATH)}, {user_path}"

    @property
    def case_sensitive(self) -> bool:
        return self.settings.get("enable_case_sensitive_identifier", "off").lower() in ("on", "true", "1")

    def creation_schema(self) -> str:
        """Where an unqualified CREATE puts its object: the first existing schema of the user's search_path (the
        backend would pick r2a_catalog, which comes first on its path)."""
        rows = self.query("select r2a_emulator.rs_name(s) from unnest(pg_catalog.current_schemas(false)) "
                          "with ordinality as p(s, k) where s not in ('r2a_catalog', 'pg_catalog') order by k limit 1")
        if not rows:
            raise EmulatorError("3F000", "no schema has been selected to create in")
        return rows[0][0]

    def transaction_status(self) -> str:
        if self.conn.closed:
            return "I"
        return _TX_STATUS.get(self.conn.info.transaction_status, "I")

    def drain_notices(self) -> list[tuple[str, str]]:
        out = []
        for line in self.conn.notices:
            severity, _, text = line.partition(":  ")
            out.append((severity.strip() or "NOTICE", text.rstrip("\n")))
        del self.conn.notices[:]
        return out

    def cancel(self) -> None:
        self.cancel_event.set()
        try:
            self.conn.cancel()
        except psycopg2.Error:
            pass

    def close(self) -> None:
        try:
            self.conn.close()
        except psycopg2.Error:
            pass

    # ------------------------------------------------------------------ running statements

    def run(self, sql: str, params=None) -> Result:
        """Run translated SQL on the backend and return its result (values as text)."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                if cur.description is None:
                    return Result(None, [], cur.statusmessage or "")
                columns = [Column(self.state.long_names.original(d.name), d.type_code) for d in cur.description]
                return Result(columns, cur.fetchall(), cur.statusmessage or f"SELECT {cur.rowcount}")
        except psycopg2.OperationalError as exc:
            if self.conn.closed or exc.pgcode is None:
                raise BackendLost(str(exc).strip() or "backend connection lost") from None
            raise self._error(exc) from None
        except psycopg2.Error as exc:
            raise self._error(exc) from None

    @contextlib.contextmanager
    def transaction(self):
        """Run several backend statements as one: inside the client's transaction, or in one of their own."""
        own = self.conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
        if own:  # the emulator's own bookkeeping, not a client's snapshot: waits for concurrent writers instead of
            self.run("begin isolation level read committed")  # failing on them
        try:
            yield
        except BaseException:
            if own and not self.conn.closed:
                self.run("rollback")
            raise
        if own:
            self.run("commit")

    def last_notice_says_exists(self) -> bool:
        return bool(self.conn.notices) and "already exists, skipping" in self.conn.notices[-1]

    def query(self, sql: str, params=None) -> list[tuple]:
        return list(self.run(sql, params).rows)

    @staticmethod
    def _error(exc: psycopg2.Error) -> EmulatorError:
        diag = exc.diag
        message = diag.message_primary or (exc.pgerror or str(exc)).strip()
        return EmulatorError(exc.pgcode or "XX000", message, diag.message_detail, diag.message_hint)

    def execute(self, statement: str) -> Result:
        self.cancel_event.clear()
        try:
            tokens = tokenize(statement)
        except SqlSyntaxError as exc:
            raise EmulatorError("42601", f"syntax error: {exc}") from None
        words = [t for t in significant(tokens)]
        if not words:
            return Result(None, [], "")
        self._check_query_faults(tokens)
        try:
            handled = self._special(statement, tokens, words)
            if handled is not None:
                return handled
            return self.run(translate.statement(tokens, self))
        except ddl.DdlError as exc:
            raise EmulatorError(exc.sqlstate, exc.message) from None
        except SqlSyntaxError as exc:
            raise EmulatorError("42601", f"syntax error: {exc}") from None

    def describe(self, query: str, param_count: int) -> list[Column] | None:
        """Columns a prepared statement would return (run with NULL parameters and no rows)."""
        words = significant(tokenize(query))
        first = words[0].upper if words else ""
        if first == "SHOW" and len(words) > 1 and words[1].upper in ("TABLE", "VIEW", "PROCEDURE"):
            return [Column("ddl", TEXT_OID)]
        if first not in ("SELECT", "WITH", "VALUES"):
            return None
        tokens = [Token("op", "NULL") if t.kind == "param" else t for t in tokenize(query)]
        inner = translate.statement(tokens, self)
        result = self.run(f"select * from ({inner}) as r2a_describe limit 0")  # nosec B608  # the emulator describes the client's own statement, translated; it is the test's database
        return result.columns

    # ------------------------------------------------------------------ emulator commands

    def _special(self, statement: str, tokens: list[Token], words: list[Token]) -> Result | None:
        first = words[0].upper
        second = words[1].upper if len(words) > 1 else ""
        if first == "SELECT" and len(words) > 1 and words[1].is_word("R2A_EMULATOR_FAULT", "R2A_EMULATOR_FAULT_CLEAR"):
            return self._fault_command(words)
        if first == "UNLOAD":
            return self._unload(statement, words)
        if first == "LOCK" and self.transaction_status() == "I":
            # "only meaningful when it is run inside a transaction block" (r_LOCK.html): outside one Redshift runs
            # it as a transaction of its own, where PostgreSQL refuses it
            with self.transaction():
                return self.run(translate.statement(tokens, self))
        if first == "CANCEL":
            return self._cancel(words)
        if first == "SHOW":
            return self._show(words)
        if first in ("SET", "RESET"):
            return self._set(tokens, words)
        if first in ("VACUUM",) or (first == "ANALYZE" and second == "COMPRESSION"):
            return Result(None, [], first)
        handler = commands.handler_for(words, self)  # before features: it asks the catalog what a name is
        if handler is not None:
            return handler(self, tokens, words)
        for module in (features, ddl, roles, users):
            handler = module.handler_for(words)
            if handler is not None:
                return handler(self, tokens, words)
        return None

    def _cancel(self, words: list[Token]) -> Result:
        """CANCEL process_id ['message']: stops the statement another session of this user is running."""
        if len(words) < 2 or not words[1].text.isdigit() or self.cancel_session is None:
            raise EmulatorError("42601", "syntax error: CANCEL process_id [ 'message' ]")
        pid = int(words[1].text)
        try:
            found = self.cancel_session(pid, self.user, self.user == self.config.master_user)
        except PermissionError as exc:
            raise EmulatorError("42501", str(exc)) from None
        if not found:
            raise EmulatorError("XX000", f"Session {pid} does not exist. The session PID might have changed. "
                                         "Check the stl_restarted_sessions system table for details.")
        return Result(None, [], "CANCEL")

    def _check_query_faults(self, tokens: list[Token]) -> None:
        if not self.state.faults.items:
            return
        for fault in self.state.faults.matching(translate.relations_named(tokens)):
            if fault.kind == "query_fail":
                coded = _CODED_MESSAGE.match(fault.argument)  # '25001: message' fails with that SQLSTATE
                if coded:
                    raise EmulatorError(coded.group(1), coded.group(2))
                raise EmulatorError("XX000", fault.argument or f"fault injected: query on {fault.table} failed")
            if fault.kind == "query_pause":
                # waits while another session holds the advisory lock numbered by the argument: a test sees the
                # statement waiting in pg_locks, does what it must do "in the middle", then unlocks
                key = _number(fault.argument, int)
                self.run("select pg_catalog.pg_advisory_lock_shared(%s)", (key,))
                self.run("select pg_catalog.pg_advisory_unlock_shared(%s)", (key,))

    def _fault_command(self, words: list[Token]) -> Result:
        args = [string_value(t) for t in words if t.kind == STRING]
        if words[1].is_word("R2A_EMULATOR_FAULT_CLEAR"):
            count = self.state.faults.clear()
            return text_result("r2a_emulator_fault_clear", [f"cleared {count} fault(s)"])
        if len(args) not in (2, 3) or args[0] not in self.state.faults.KINDS:
            raise EmulatorError("22023", "usage: select r2a_emulator_fault('unload_fail'|'unload_stall'|"
                                         "'disconnect'|'query_fail'|'query_pause'|'unload_escape_null_as', "
                                         "'schema.table', 'argument')")
        kind, table, argument = args[0], args[1].lower(), args[2] if len(args) > 2 else ""
        if kind == "unload_stall":
            _number(argument or "30", float)
        if kind in ("disconnect", "query_pause"):
            _number(argument or "0", int)
        self.state.faults.add(Fault(kind, table, argument))
        return text_result("r2a_emulator_fault", [f"{kind} on {table}"])

    def _unload(self, statement: str, words: list[Token]) -> Result:
        try:
            from devstack.redshift import unload
        except ImportError:
            raise EmulatorError("0A000", "UNLOAD not available") from None
        query_tokens = [t for t in words[1:4] if t.kind == STRING]
        relations = translate.relations_named(tokenize(string_value(query_tokens[0]))) if query_tokens else set()
        plan = self.state.faults.plan(relations)
        target = unload.S3Target(endpoint_url=self.config.s3_endpoint_url, region=self.config.s3_region,
                                 access_key_id=self.config.s3_access_key_id,
                                 secret_access_key=self.config.s3_secret_access_key,
                                 iam_roles=tuple(self.config.iam_roles))
        # psycopg2 opens named cursors only outside autocommit: an idle session gets a transaction of its own
        # for the UNLOAD; inside the client's transaction the cursor is WITH HOLD.
        own_transaction = self.conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
        counter = iter(range(1, 1 << 62))

        def open_cursor(query: str):
            translated = translate.statement(tokenize(query), self)
            if own_transaction and self.conn.autocommit:
                self.conn.autocommit = False
            with self.conn.cursor() as settings:    # Redshift's text forms, whatever the client SET
                settings.execute("set local timezone = 'UTC'; set local datestyle = 'ISO, MDY'; "
                                 "set local extra_float_digits = 0; set local intervalstyle = 'postgres'")
            cursor = self.conn.cursor(name=f"r2a_unload_{next(counter)}", withhold=not own_transaction)
            cursor.itersize = 2000
            cursor.execute(translated)
            return cursor

        def notice(text: str) -> None:
            self.notice(text, "INFO")

        try:
            unload.run_unload(statement, open_cursor, target, self.config.slices, notice, faults=plan,
                              cancel=self.cancel_event)
        except unload.UnloadError as exc:
            self._end_unload(own_transaction, ok=False)
            raise EmulatorError(exc.sqlstate, exc.message) from None
        except CutConnection:
            self._end_unload(own_transaction, ok=False)
            raise
        except psycopg2.Error as exc:
            self._end_unload(own_transaction, ok=False)
            raise self._error(exc) from None
        self._end_unload(own_transaction, ok=True)
        return Result(None, [], "UNLOAD")

    def _end_unload(self, own_transaction: bool, ok: bool) -> None:
        if self.conn.closed:
            return
        try:
            if own_transaction:
                if ok:
                    self.conn.commit()
                else:
                    self.conn.rollback()
                self.conn.autocommit = True
            elif not ok and self.conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INTRANS:
                self.run("rollback")
        except psycopg2.Error:
            pass

    def _show(self, words: list[Token]) -> Result:
        kind = words[1].upper if len(words) > 1 else ""
        if kind in ("TABLE", "VIEW", "PROCEDURE") and len(words) > 2:
            return text_result("ddl", [show.show(self, kind, words[2:])])
        name = words[1].name if len(words) > 1 else ""
        if name in _NOT_SHOWN:
            raise EmulatorError("42704", f'unrecognized configuration parameter "{name}"')
        if name == "server_version":
            if self.user != self.config.master_user:
                raise EmulatorError("42501", 'must be superuser to examine "server_version"')
            return text_result("server_version", ["8.0.2"])
        if name in ("search_path",):
            return text_result("search_path", [self.search_path])
        if name in _REDSHIFT_SETTINGS:
            return text_result(name, [self.settings.get(name, _REDSHIFT_SETTINGS[name])])
        return None

    def _set(self, tokens: list[Token], words: list[Token]) -> Result | None:
        rest = words[1:]
        if rest and rest[0].is_word("SESSION", "LOCAL"):
            rest = rest[1:]
        if not rest:
            return None
        name = rest[0].name
        if words[0].upper == "RESET":
            if name == "search_path":
                self.search_path = DEFAULT_SEARCH_PATH
                self.run(self._search_path_sql(self.search_path))
                return Result(None, [], "RESET")
            if name in _REDSHIFT_SETTINGS:
                self.settings.pop(name, None)
                return Result(None, [], "RESET")
            if name == "all":
                self.settings.clear()
                self.search_path = DEFAULT_SEARCH_PATH
                self.run("reset all")
                self.run(self._search_path_sql(self.search_path) + "; set timezone = 'UTC'; " + SNAPSHOT_ISOLATION)
                return Result(None, [], "RESET")
            return None
        value_tokens = rest[1:]
        if value_tokens and (value_tokens[0].is_word("TO") or value_tokens[0].text == "="):
            value_tokens = value_tokens[1:]
        if name == "search_path":
            items = [t for t in value_tokens if not (t.kind == PUNCT and t.text == ",")]
            if not items or (len(items) == 1 and items[0].is_word("DEFAULT")):
                self.search_path = DEFAULT_SEARCH_PATH
            else:
                self.search_path = ", ".join(_path_item(t, self) for t in items)
            self.run(self._search_path_sql(self.search_path))
            return Result(None, [], "SET")
        if name in _REDSHIFT_SETTINGS:
            value = " ".join(string_value(t) if t.kind == STRING else t.text for t in value_tokens)
            self.settings[name] = value.lower() if name == "enable_case_sensitive_identifier" else value
            return Result(None, [], "SET")
        return None


def _path_item(token: Token, engine: Engine) -> str:
    name = string_value(token) if token.kind == STRING else token.name
    return translate.identifier_sql(name, engine)


def _number(text: str, kind):
    try:
        return kind(text)
    except ValueError:
        raise EmulatorError("22023", f"fault argument {text!r} is not a number") from None


def statement_text(tokens: list[Token]) -> str:
    return join(tokens)
