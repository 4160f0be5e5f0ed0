"""The emulator's network side: one thread per client session, speaking PostgreSQL protocol v3 like Redshift.

Each session owns one backend PostgreSQL connection (see engine.Engine); this module only deals with messages:
startup and password authentication, the simple and the extended query protocol, cancel requests."""

from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
import socket
import socketserver
import threading
from dataclasses import dataclass, field

from devstack.redshift import protocol as pg
from devstack.redshift.config import Config
from devstack.redshift.engine import BackendLost, EmulatorError, Engine, Result
from devstack.redshift.faults import CutConnection
from devstack.redshift.lexer import PARAM, SqlSyntaxError, quote_literal, split_statements, tokenize

log = logging.getLogger("devstack.redshift")

SERVER_VERSION = "8.0.2"
FLUSH_AT = 1 << 16
# psycopg2, psql and JDBC read these at connect time; Redshift sends the same names.
_PARAMETERS = (("server_version", SERVER_VERSION), ("server_encoding", "UNICODE"), ("client_encoding", "UTF8"),
               ("DateStyle", "ISO, MDY"), ("TimeZone", "UTC"), ("integer_datetimes", "on"),
               ("standard_conforming_strings", "off"), ("is_superuser", "on"))
_TYPE_NAMES = {16: "boolean", 20: "bigint", 21: "smallint", 23: "integer", 25: "text", 700: "real",
               701: "double precision", 1043: "varchar", 1042: "bpchar", 1082: "date", 1083: "time",
               1114: "timestamp", 1184: "timestamptz", 1700: "numeric", 17: "bytea", 3802: "jsonb"}


@dataclass
class Prepared:
    query: str
    param_types: list[int]


@dataclass
class Portal:
    statement: Prepared
    query: str
    result: Result | None = None
    rows_sent: int = 0
    done: bool = False


@dataclass
class Registry:
    """Sessions by (pid, secret) so a cancel request on another connection finds its target."""
    sessions: dict[int, tuple[int, ClientSession]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    pids: itertools.count = field(default_factory=lambda: itertools.count(10001))

    def add(self, session: ClientSession) -> tuple[int, int]:
        with self.lock:
            pid, secret = next(self.pids), secrets.randbits(31)
            self.sessions[pid] = (secret, session)
        return pid, secret

    def remove(self, pid: int) -> None:
        with self.lock:
            self.sessions.pop(pid, None)

    def cancel(self, pid: int, secret: int) -> None:
        with self.lock:
            entry = self.sessions.get(pid)
        if entry and entry[0] == secret:
            entry[1].engine.cancel()

    def cancel_statement(self, pid: int, requester: str, superuser: bool) -> bool:
        """The CANCEL command: a user cancels their own sessions' statements, a superuser anyone's.
        False when no session has that pid."""
        with self.lock:
            entry = self.sessions.get(pid)
        if entry is None or entry[1].engine is None:
            return False
        target = entry[1].engine
        if target.user != requester and not superuser:
            raise PermissionError(f"user {requester} may not cancel a statement of user {target.user}")
        target.cancel()
        return True


class ClientSession:
    def __init__(self, sock: socket.socket, config: Config, registry: Registry, state):
        self.sock = sock
        self.config = config
        self.registry = registry
        self.state = state
        self.reader = pg.MessageReader(sock)
        self.out = bytearray()
        self.engine: Engine | None = None
        self.prepared: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.skip_until_sync = False

    # ------------------------------------------------------------------ output

    def send(self, data: bytes) -> None:
        self.out += data
        if len(self.out) >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self.out:
            self.sock.sendall(self.out)
            self.out.clear()

    def notice(self, text: str, severity: str = "INFO") -> None:
        self.send(pg.notice(text, severity))
        self.flush()

    # ------------------------------------------------------------------ startup

    def run(self) -> None:
        pid = None
        try:
            user = self.startup()
            if user is None:
                return
            self.engine = Engine(self.config, self.state, user, notice=self.notice,
                                 cancel_session=self.registry.cancel_statement)
            pid, secret = self.registry.add(self)
            self.engine.set_session_pid(pid)
            self.send(pg.auth_ok())
            for name, value in _PARAMETERS:
                self.send(pg.parameter_status(name, value))
            self.send(pg.parameter_status("session_authorization", user))
            self.send(pg.backend_key(pid, secret))
            self.send(pg.ready("I"))
            self.flush()
            self.loop()
        except (pg.ClientGone, ConnectionError, OSError):
            pass
        except CutConnection:
            log.info("fault: cut the connection of a session")
        except BackendLost as exc:
            self._fatal("57P01", f"terminating connection: {exc}")
        except Exception as exc:  # a bug in the emulator: say so to the client and in the log, keep serving
            log.exception("session failed")
            self._fatal("XX000", f"internal error in the Redshift emulator: {exc}")
        finally:
            if pid is not None:
                self.registry.remove(pid)
            if self.engine is not None:
                self.engine.close()
            try:
                self.sock.close()
            except OSError:
                pass

    def _fatal(self, sqlstate: str, text: str) -> None:
        try:
            self.send(pg.error(sqlstate, text, "FATAL"))
            self.flush()
        except OSError:
            pass

    def startup(self) -> str | None:
        while True:
            code, body = self.reader.startup()
            if code in (pg.SSL_REQUEST, pg.GSSENC_REQUEST):
                self.sock.sendall(b"N")
                continue
            if code == pg.CANCEL_REQUEST:
                pid, secret = int.from_bytes(body[:4], "big", signed=True), int.from_bytes(body[4:8], "big")
                self.registry.cancel(pid, secret)
                return None
            if code != pg.PROTOCOL_V3:
                self._fatal("0A000", f"unsupported frontend protocol {code >> 16}.{code & 0xffff}")
                return None
            break
        params = pg.startup_parameters(body)
        user = params.get("user", "")
        database = params.get("database") or user
        salt = secrets.token_bytes(4)
        self.send(pg.auth_md5(salt))
        self.flush()
        kind, payload = self.reader.message()
        if kind != b"p":
            return None
        answer = payload.rstrip(b"\x00").decode(errors="replace")
        if not self.state.users.password_ok(user, answer, salt):
            self._fatal("28P01", f'password authentication failed for user "{user}"')
            return None
        if database != self.config.database:
            self._fatal("3D000", f'database "{database}" does not exist')
            return None
        return user

    # ------------------------------------------------------------------ message loop

    def loop(self) -> None:
        while True:
            kind, body = self.reader.message()
            if kind == b"X":
                return
            if self.skip_until_sync and kind not in (b"S",):
                continue
            handler = _HANDLERS.get(kind)
            if handler is None:
                self.send(pg.error("08P01", f"unsupported frontend message type {kind!r}"))
                self.send(pg.ready(self.engine.transaction_status()))
                self.flush()
                continue
            handler(self, pg.Payload(body))

    def on_query(self, payload: pg.Payload) -> None:
        text = payload.cstring()
        try:
            statements = split_statements(text)
        except SqlSyntaxError as exc:
            self.send(pg.error("42601", f"syntax error: {exc}"))
            statements = None
        if statements == []:
            self.send(pg.empty_query())
        for statement in statements or []:
            if not self.run_statement(statement, describe=True):
                break
        self.send(pg.ready(self.engine.transaction_status()))
        self.flush()

    def run_statement(self, statement: str, describe: bool) -> bool:
        try:
            result = self.engine.execute(statement)
        except EmulatorError as exc:
            self.send(pg.error(exc.sqlstate, exc.message, detail=exc.detail, hint=exc.hint))
            return False
        except (CutConnection, BackendLost):
            raise
        except Exception as exc:  # a statement the emulator cannot handle: an error, not a dead session
            log.exception("statement failed: %.200s", statement)
            self.send(pg.error("XX000", f"the Redshift emulator failed on this statement: {exc}"))
            return False
        finally:
            self._forward_notices()
        if describe and result.columns is not None:
            self.send(pg.row_description(result.columns))
        for row in result.rows:
            self.send(pg.data_row(row))
        self.send(pg.command_complete(result.tag))
        return True

    def _forward_notices(self) -> None:
        for severity, text in self.engine.drain_notices():
            self.send(pg.notice(text, severity))

    # ------------------------------------------------------------------ extended protocol

    def _extended_error(self, exc: EmulatorError) -> None:
        self.send(pg.error(exc.sqlstate, exc.message, detail=exc.detail, hint=exc.hint))
        self.skip_until_sync = True

    def on_parse(self, payload: pg.Payload) -> None:
        name, query = payload.cstring(), payload.cstring()
        types = [payload.int32() for _ in range(payload.int16())]
        try:
            statements = split_statements(query)
        except SqlSyntaxError as exc:
            return self._extended_error(EmulatorError("42601", f"syntax error: {exc}"))
        if len(statements) > 1:
            return self._extended_error(EmulatorError("42601", "cannot insert multiple commands into a prepared "
                                                               "statement"))
        self.prepared[name] = Prepared(statements[0] if statements else "", types)
        self.send(pg.parse_complete())

    def on_bind(self, payload: pg.Payload) -> None:
        portal_name, statement_name = payload.cstring(), payload.cstring()
        formats = [payload.int16() for _ in range(payload.int16())]
        values = []
        for _ in range(payload.int16()):
            size = payload.int32()
            values.append(None if size < 0 else payload.raw(size))
        result_formats = [payload.int16() for _ in range(payload.int16())]
        statement = self.prepared.get(statement_name)
        if statement is None:
            return self._extended_error(EmulatorError("26000", f'prepared statement "{statement_name}" does not '
                                                               "exist"))
        if any(f == 1 for f in formats) or any(f == 1 for f in result_formats):
            return self._extended_error(EmulatorError("0A000", "the Redshift emulator supports text format only"))
        try:
            self.portals[portal_name] = Portal(statement, _substitute(statement, values))
        except EmulatorError as exc:
            return self._extended_error(exc)
        self.send(pg.bind_complete())

    def _portal_result(self, portal: Portal) -> Result | None:
        if portal.result is None and not portal.done:
            try:
                portal.result = self.engine.execute(portal.query) if portal.query else Result(None, [], "")
                portal.result.rows = iter(portal.result.rows)
            except (EmulatorError, CutConnection, BackendLost):
                raise
            except Exception as exc:
                log.exception("statement failed: %.200s", portal.query)
                raise EmulatorError("XX000", f"the Redshift emulator failed on this statement: {exc}") from None
            finally:
                self._forward_notices()
        return portal.result

    def on_describe(self, payload: pg.Payload) -> None:
        kind, name = payload.byte(), payload.cstring()
        try:
            if kind == b"S":
                statement = self.prepared.get(name)
                if statement is None:
                    raise EmulatorError("26000", f'prepared statement "{name}" does not exist')
                count = _param_count(statement)
                types = (statement.param_types + [0] * count)[:count]
                self.send(pg.parameter_description([t or 25 for t in types]))
                columns = self.engine.describe(statement.query, count)
            else:
                portal = self.portals.get(name)
                if portal is None:
                    raise EmulatorError("34000", f'portal "{name}" does not exist')
                columns = self._portal_result(portal).columns
        except EmulatorError as exc:
            return self._extended_error(exc)
        self.send(pg.row_description(columns) if columns is not None else pg.no_data())

    def on_execute(self, payload: pg.Payload) -> None:
        name, max_rows = payload.cstring(), payload.int32()
        portal = self.portals.get(name)
        if portal is None:
            return self._extended_error(EmulatorError("34000", f'portal "{name}" does not exist'))
        try:
            result = self._portal_result(portal)
        except EmulatorError as exc:
            return self._extended_error(exc)
        if not portal.query:
            self.send(pg.empty_query())
            return
        sent = 0
        for row in result.rows:
            self.send(pg.data_row(row))
            sent += 1
            if max_rows > 0 and sent >= max_rows:
                self.send(pg.portal_suspended())
                return
        portal.done = True
        self.send(pg.command_complete(result.tag))

    def on_sync(self, _payload: pg.Payload) -> None:
        self.skip_until_sync = False
        self.portals.pop("", None)
        self.send(pg.ready(self.engine.transaction_status()))
        self.flush()

    def on_close(self, payload: pg.Payload) -> None:
        kind, name = payload.byte(), payload.cstring()
        (self.prepared if kind == b"S" else self.portals).pop(name, None)
        self.send(pg.close_complete())

    def on_flush(self, _payload: pg.Payload) -> None:
        self.flush()


_HANDLERS = {b"Q": ClientSession.on_query, b"P": ClientSession.on_parse, b"B": ClientSession.on_bind,
             b"D": ClientSession.on_describe, b"E": ClientSession.on_execute, b"S": ClientSession.on_sync,
             b"C": ClientSession.on_close, b"H": ClientSession.on_flush}


def _param_count(statement: Prepared) -> int:
    numbers = [int(t.text[1:]) for t in tokenize(statement.query) if t.kind == PARAM]
    return max(numbers + [len(statement.param_types)])


def _substitute(statement: Prepared, values: list[bytes | None]) -> str:
    """Text parameters become literals in the statement (with the client's declared type, if any)."""
    out = []
    for token in tokenize(statement.query):
        if token.kind != PARAM:
            out.append(token.text)
            continue
        index = int(token.text[1:]) - 1
        if index >= len(values):
            raise EmulatorError("08P01", f"bind message supplies {len(values)} parameters, but the statement "
                                         f"needs {index + 1}")
        value = values[index]
        if value is None:
            out.append("NULL")
            continue
        literal = quote_literal(value.decode())
        type_oid = statement.param_types[index] if index < len(statement.param_types) else 0
        type_name = _TYPE_NAMES.get(type_oid)
        out.append(f"({literal}::{type_name})" if type_name else literal)
    return "".join(out)


def md5_answer(user: str, password: str, salt: bytes) -> str:
    inner = hashlib.md5((password + user).encode()).hexdigest()  # nosec B324  # PostgreSQL's md5 password authentication, which the emulator speaks: the protocol fixes the hash
    return "md5" + hashlib.md5(inner.encode() + salt).hexdigest()  # nosec B324  # the md5 protocol, as above


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ClientSession(self.request, self.server.config, self.server.registry, self.server.state).run()


class EmulatorServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, config: Config, state):
        self.config = config
        self.state = state
        self.registry = Registry()
        super().__init__((config.host, config.port), _Handler)
