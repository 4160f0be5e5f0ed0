"""Connections to Redshift (optionally through the SSH bastion) and to AlloyDB, with clear failures.

Host keys are verified by default: the bastion's key must be pinned (shared/bastion_hostkey.py), and a changed key
is refused, never trusted. Every connection carries `application_name=r2a/<step>` and timeouts. Connection
failures become one-line R2AErrors (wrong password, unreachable host, refused host key) without the DSN.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from shared.bastion_hostkey import host_key_pin, mismatch_error, verified_key
from shared.config import AlloyDBSettings, BastionSettings, RedshiftSettings, Settings, require
from shared.errors import ConfigError, R2AError, SourceError, TargetError, TransientError
from shared.log import event, one_line, register_secret
from shared.pgcursor import ComposedSafeCursor
from shared.retry import is_transient

# A bastion that answers no keepalive for ALIVE_COUNT_MAX x ALIVE_INTERVAL_S seconds is given up (as OpenSSH's
# ServerAliveInterval 15 / ServerAliveCountMax 3).
ALIVE_INTERVAL_S = 15.0
ALIVE_COUNT_MAX = 3


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


class _CapturingHandler(logging.Handler):
    """sshtunnel logs the real cause and raises a generic error; keep the cause to report it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def ssh_tunnel(bastion: BastionSettings, remote: Endpoint) -> Iterator[Endpoint]:
    """Forward a local port to `remote` through the bastion; yields the local endpoint."""
    with _open_tunnel(bastion, remote) as (local, _):
        yield local


@contextmanager
def _open_tunnel(bastion: BastionSettings, remote: Endpoint) -> Iterator[tuple[Endpoint, Any]]:
    import paramiko
    import sshtunnel

    require(bastion, "host", "user", "key_file")
    pin = host_key_pin(bastion)
    host_key = verified_key(bastion, pin) if pin else None
    if pin is None:
        event("bastion.host_key_unverified", level=logging.WARNING, bastion=f"{bastion.host}:{bastion.port}",
              because="SSH_BASTION_STRICT_HOST_KEY=false")
    try:
        private_key = paramiko.PKey.from_path(bastion.key_file)
    except Exception as exc:  # wrong format, passphrase-protected, unreadable
        raise ConfigError(f"SSH_BASTION_KEY_FILE {bastion.key_file!r} is not a usable private key: "
                          f"{type(exc).__name__}") from None
    capture = _CapturingHandler()
    tunnel_logger = logging.getLogger("r2a.sshtunnel")
    tunnel_logger.addHandler(capture)
    tunnel_logger.propagate = False
    tunnel_logger.setLevel(logging.DEBUG)
    # Outside a start, sshtunnel's warnings (a stop after the bastion went away) would reach Python's last-resort
    # handler as raw stderr lines, and paramiko's transport thread logs multi-line tracebacks of failures (a banner
    # timeout) that this module already reports in one line.
    if not any(isinstance(h, logging.NullHandler) for h in tunnel_logger.handlers):
        tunnel_logger.addHandler(logging.NullHandler())
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    # sshtunnel logs only "Authentication error" for a refused key and for a connection the bastion dropped
    # during the login alike; paramiko's transport says "Authentication (publickey) failed." only for a refusal.
    transport_logger = _quiet_transport_logger()
    transport_logger.addHandler(capture)
    where = f"bastion {bastion.host}:{bastion.port}"
    try:
        for start in range(TUNNEL_STARTS):
            forwarder = sshtunnel.SSHTunnelForwarder(
                (bastion.host, bastion.port), ssh_username=bastion.user, ssh_pkey=private_key,
                ssh_host_key=host_key, remote_bind_address=(remote.host, remote.port),
                local_bind_address=("127.0.0.1", 0), allow_agent=False, host_pkey_directories=[],
                ssh_config_file=None, logger=tunnel_logger, set_keepalive=15.0)
            try:
                forwarder.start()
                break
            except Exception:
                _abandon(forwarder)
                if pin is not None and _refused_host_key(capture.messages):
                    raise mismatch_error(bastion, pin) from None
                if start + 1 == TUNNEL_STARTS or not _dropped_by_a_busy_bastion(capture.messages):
                    raise _tunnel_error(where, capture.messages) from None
                event("bastion.start_retried", level=logging.WARNING, bastion=where, attempt=start + 2,
                      because="the bastion closed the connection before the login ended")
                capture.messages.clear()
                time.sleep(TUNNEL_RETRY_PAUSE_S)
    finally:
        tunnel_logger.removeHandler(capture)
        transport_logger.removeHandler(capture)
    watch = _BastionWatch(forwarder._transport)
    watch.start()
    try:
        yield Endpoint("127.0.0.1", forwarder.local_bind_port), forwarder
    finally:
        watch.stop()
        forwarder.stop(force=True)


# OpenSSH's sshd drops unauthenticated connections at random once MaxStartups (default 10:30:100) are pending
# (sshd_config(5)): when many pods start at once, a start can lose the connection before the banner or during the
# login. Such a start is tried again, as is one that ended right after the key exchange (_ENDED_EARLY); a key the
# bastion refuses is not (it would be refused again).
TUNNEL_STARTS = 3
TUNNEL_RETRY_PAUSE_S = 1.0


def _quiet_transport_logger() -> logging.Logger:
    """paramiko's transport logger, whose messages name a refused login, kept for `capture` and printed nowhere."""
    transport_logger = logging.getLogger("paramiko.transport")
    transport_logger.setLevel(logging.DEBUG)
    transport_logger.propagate = False
    if not any(isinstance(h, logging.NullHandler) for h in transport_logger.handlers):
        transport_logger.addHandler(logging.NullHandler())
    return transport_logger


def _dropped_by_a_busy_bastion(messages: list[str]) -> bool:
    """The start failed because the connection ended early (no banner, right after the key exchange, or during the
    login), not because the bastion refused the key."""
    text = " | ".join(messages).lower()
    if "banner" in text:
        return True
    if _login_refused(text):
        return False
    return any(words in text for words in _ENDED_EARLY)


# sshtunnel's words for a connection closed during the login; paramiko's for one that ended right after the key
# exchange, when the first encrypted packet does not decrypt (the two sides derived different keys, as
# implementations of the new hybrid key exchange did once in some 512 handshakes: erlang/otp#11208) and the
# server hangs up: "EOF in transport thread", "Invalid packet blocking".
_ENDED_EARLY = ("authentication error", "eof in transport thread", "invalid packet blocking")


def _login_refused(text: str) -> bool:
    # paramiko's words for a USERAUTH_FAILURE (auth_handler._parse_userauth_failure)
    return "authentication (publickey) failed" in text or "authentication type (publickey) not permitted" in text


class _KeptTunnel:
    """A tunnel held open between connections (see reusing_tunnels)."""

    def __init__(self, bastion: BastionSettings, remote: Endpoint) -> None:
        self._stack = ExitStack()
        self.local, self._forwarder = self._stack.enter_context(_open_tunnel(bastion, remote))

    def alive(self) -> bool:
        transport = getattr(self._forwarder, "_transport", None)
        return transport is not None and transport.is_active()

    def close(self) -> None:
        self._stack.close()


_kept_lock = threading.Lock()
_kept_tunnels: dict[tuple[BastionSettings, Endpoint], _KeptTunnel] | None = None  # None: not reusing


@contextmanager
def reusing_tunnels() -> Iterator[None]:
    """Inside the block, Redshift connections through the bastion share one SSH tunnel per bastion and endpoint
    instead of opening one each (an SSH handshake, about 120 ms, twice per table: the UNLOAD's session and the
    recount); a tunnel whose SSH connection has ended (bastion restarted, keepalives unanswered) or through which a
    connection failed is replaced by a new one at the next connection. The tunnels close when the block ends."""
    global _kept_tunnels
    with _kept_lock:
        outermost = _kept_tunnels is None
        if outermost:
            _kept_tunnels = {}
    try:
        yield
    finally:
        if outermost:
            with _kept_lock:
                kept, _kept_tunnels = _kept_tunnels or {}, None
            for tunnel in kept.values():
                tunnel.close()


def _tunnel(stack: ExitStack, bastion: BastionSettings, remote: Endpoint) -> tuple[Endpoint, _KeptTunnel | None]:
    """The local end of a tunnel to `remote`: a kept one inside reusing_tunnels, else one for this connection
    (closed with `stack`)."""
    with _kept_lock:
        if _kept_tunnels is None:
            kept = None
        else:
            kept = _kept_tunnels.get((bastion, remote))
            if kept is not None and not kept.alive():
                del _kept_tunnels[(bastion, remote)]
                kept.close()
                kept = None
            if kept is None:  # opened under the lock: concurrent sessions wait for this one, not open their own
                kept = _kept_tunnels[(bastion, remote)] = _KeptTunnel(bastion, remote)
    if kept is None:
        return stack.enter_context(ssh_tunnel(bastion, remote)), None
    return kept.local, kept


def _forget(bastion: BastionSettings, remote: Endpoint, tunnel: _KeptTunnel) -> None:
    """A connection through a kept tunnel failed: the next one opens a new tunnel (this one may be half dead)."""
    with _kept_lock:
        if _kept_tunnels is not None and _kept_tunnels.get((bastion, remote)) is tunnel:
            del _kept_tunnels[(bastion, remote)]
        else:
            return
    tunnel.close()


class _BastionWatch(threading.Thread):
    """OpenSSH's ServerAliveInterval / ServerAliveCountMax, which paramiko lacks. A bastion that stops answering
    without closing the connection (frozen, or the network cut without a reset) would leave a statement blocked in
    libpq on the forwarded local socket for ever: when a keepalive stays unanswered for ALIVE_COUNT_MAX intervals,
    the SSH transport is closed, the tunnel's local socket with it, and the statement fails with a lost
    connection (transient)."""

    def __init__(self, transport) -> None:
        super().__init__(name="bastion-watch", daemon=True)
        self._transport = transport
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        while not self._stopped.wait(ALIVE_INTERVAL_S):
            if self._transport is None or not self._transport.is_active():
                return
            answered = threading.Event()
            threading.Thread(target=self._ask, args=(answered,), name="bastion-alive", daemon=True).start()
            if not answered.wait(ALIVE_INTERVAL_S * ALIVE_COUNT_MAX) and not self._stopped.is_set():
                event("bastion.unresponsive", silent_s=ALIVE_INTERVAL_S * ALIVE_COUNT_MAX, closing="the tunnel")
                self._transport.close()
                return

    def _ask(self, answered: threading.Event) -> None:
        try:  # any answer (OpenSSH and asyncssh refuse this request) proves the bastion alive
            self._transport.global_request("keepalive@openssh.com", wait=True)
        except Exception:  # the transport is closing: nothing left to watch
            pass
        finally:
            answered.set()


def _abandon(forwarder) -> None:
    """Close what a failed start opened. sshtunnel's stop() would wait forever for the serve_forever loops of
    local servers that a failed start never began (a refused key then hung the step)."""
    for server in getattr(forwarder, "_server_list", []):
        server.server_close()
    transport = getattr(forwarder, "_transport", None)
    if transport is not None:
        transport.close()


def _refused_host_key(messages: list[str]) -> bool:
    text = " | ".join(messages).lower()
    return "bad host key" in text or "no acceptable host key" in text or "host key" in text and "mismatch" in text


def _tunnel_error(where: str, messages: list[str]) -> R2AError:
    text = " | ".join(messages).lower()
    if _login_refused(text):
        return ConfigError(f"{where} refused the SSH login (check SSH_BASTION_USER and SSH_BASTION_KEY_FILE)")
    if "authentication error" in text:
        return TransientError(f"{where} closed the connection during the SSH login ({TUNNEL_STARTS} tries)")
    if "could not resolve" in text:
        return ConfigError(f"cannot resolve the host name of {where}")
    detail = next((m for m in messages if "could not connect" in m.lower()), "")
    return TransientError(f"cannot open the SSH tunnel through {where}" + (f": {detail.split(' : ')[-1]}"
                                                                        if detail else ""))


def _connect_error(system: str, where: str, user: str | None, exc: psycopg2.Error) -> R2AError:
    text = one_line(exc)
    lowered = text.lower()
    permanent = SourceError if system == "Redshift" else TargetError
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return ConfigError(f"{system} at {where} refused the login for user {user!r}: wrong user or password")
    if "authentication method requirement" in lowered:
        setting = "REDSHIFT_REQUIRE_AUTH" if system == "Redshift" else "PGREQUIREAUTH"
        return ConfigError(f"{system} at {where} asked for a login method that {setting} refuses ({text}); "
                           "the password was not sent", "Check that this is the real server")
    if "no password supplied" in lowered:
        return ConfigError(f"{system} at {where} asks for a password and none is configured")
    if "does not exist" in lowered:
        return permanent(f"{system} at {where}: {text}")
    if "server certificate" in lowered or ("ssl" in lowered and ("certificate" in lowered or "verify" in lowered
                                                                  or "not support" in lowered)):
        return ConfigError(f"{system} at {where}: TLS problem: {text}")
    if "could not translate host name" in lowered:
        return ConfigError(f"{system} host name of {where} cannot be resolved")
    return TransientError(f"cannot connect to {system} at {where}: {one_line(exc, 200)}")


# libpq 16 added require_auth (https://www.postgresql.org/docs/16/libpq-connect.html#LIBPQ-CONNECT-REQUIRE-AUTH).
REQUIRE_AUTH_LIBPQ = 160000


def tls_params(sslmode: str, sslrootcert: str | None, require_auth: str | None) -> dict[str, str | None]:
    """libpq's TLS and login-method arguments. `require_auth` stops a server that is not the real one (reachable
    when the certificate is not verified) from asking for the password in cleartext; it is left out where libpq
    is too old to know it, and for `any`."""
    params: dict[str, str | None] = {"sslmode": sslmode, "sslrootcert": sslrootcert}
    if not require_auth or require_auth == "any":
        return params
    if psycopg2.extensions.libpq_version() >= REQUIRE_AUTH_LIBPQ:
        params["require_auth"] = require_auth
    elif not _warned_require_auth.is_set():
        _warned_require_auth.set()
        event("tls.require_auth_unsupported", level=logging.WARNING, libpq=psycopg2.extensions.libpq_version())
    return params


_warned_require_auth = threading.Event()


def _connect(system: str, where: str, step: str, **params) -> psycopg2.extensions.connection:
    register_secret(params.get("password"))
    params = {k: v for k, v in params.items() if v is not None}
    try:
        return psycopg2.connect(application_name=f"r2a/{step}", cursor_factory=ComposedSafeCursor, **params)
    except psycopg2.Error as exc:
        raise _connect_error(system, where, params.get("user"), exc) from None


@contextmanager
def redshift_connection(settings: Settings | RedshiftSettings, step: str,
                        bastion: BastionSettings | None = None) -> Iterator[psycopg2.extensions.connection]:
    """A connection to Redshift, tunnelled through the bastion when SSH_BASTION_HOST is set."""
    if isinstance(settings, Settings):
        redshift, bastion = settings.redshift, settings.bastion
    else:
        redshift = settings
    require(redshift, "host", "database", "user")
    with ExitStack() as stack:
        # Through the bastion libpq connects to the tunnel's local end (hostaddr) but still checks the certificate
        # and looks up passwords under the endpoint's real name (host): verify-full works as without a tunnel.
        address = {"host": redshift.host, "port": redshift.port}
        where = f"{redshift.host}:{redshift.port}"
        kept, remote = None, Endpoint(redshift.host, redshift.port)
        if bastion is not None and bastion.host:
            local, kept = _tunnel(stack, bastion, remote)
            address.update(hostaddr=local.host, port=local.port)
            where = f"{where} via bastion {bastion.host}:{bastion.port}"
        try:
            conn = _connect("Redshift", where, step, **address, dbname=redshift.database, user=redshift.user,
                            password=redshift.password,
                            **tls_params(redshift.sslmode, redshift.sslrootcert, redshift.require_auth),
                            connect_timeout=redshift.connect_timeout, keepalives=1, keepalives_idle=30)
        except R2AError:
            if kept is not None:
                _forget(bastion, remote, kept)
            raise
        stack.callback(conn.close)
        _names_exactly_as_stored(conn, where)
        try:
            yield conn
        except (TransientError, psycopg2.Error) as exc:
            if not conn.closed or not is_transient(exc):
                raise
            raise lost_connection("Redshift", where, exc) from None


def lost_connection(system: str, where: str, exc: BaseException) -> TransientError:
    """A session that broke in use, in one line that says which way it went (`where` names the bastion when the
    connection is tunnelled: where such faults often are). Transient: a new attempt reconnects."""
    reason = exc.reason if isinstance(exc, R2AError) else \
        f"the connection to {system} was lost: {one_line(exc, 200)}"
    if where in reason:
        return exc if isinstance(exc, TransientError) else TransientError(reason)
    return TransientError(f"{reason} ({system} at {where})", getattr(exc, "hint", None))


def cancel_redshift_statement(settings: Settings, pid: int, step: str) -> None:
    """Stop what Redshift session `pid` is running, with CANCEL from a session of its own. psycopg2's
    connection.cancel() cannot be used through the bastion: it holds the GIL inside libpq's PQcancel while waiting
    for the server, and the in-process SSH tunnel that must carry the request needs the GIL to run."""
    with redshift_connection(settings, step) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("CANCEL {}").format(sql.Literal(int(pid))))


def _names_exactly_as_stored(conn, where: str) -> None:
    """Mixed-case names ("MixedCase Table") are only visible and quotable as stored with this session setting;
    without it Redshift folds every identifier, quoted or not, to lower case."""
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET enable_case_sensitive_identifier TO true")
        conn.commit()
    except psycopg2.Error as exc:
        raise SourceError(f"Redshift at {where} refused SET enable_case_sensitive_identifier: "
                          f"{one_line(exc, 200)}") from None


def alloydb_connection(settings: Settings | AlloyDBSettings, step: str, *, statement_timeout_s: int = 0,
                       autocommit: bool = False) -> psycopg2.extensions.connection:
    """A connection to AlloyDB (libpq PG* conventions); the caller closes it (or uses it as a context)."""
    alloydb = settings.alloydb if isinstance(settings, Settings) else settings
    require(alloydb, "host", "database", "user")
    where = f"{alloydb.host}:{alloydb.port}/{alloydb.database}"
    options = f"-c statement_timeout={statement_timeout_s * 1000}" if statement_timeout_s else None
    conn = _connect("AlloyDB", where, step, host=alloydb.host, port=alloydb.port, dbname=alloydb.database,
                    user=alloydb.user, password=alloydb.password,
                    **tls_params(alloydb.sslmode, alloydb.sslrootcert, alloydb.require_auth),
                    connect_timeout=alloydb.connect_timeout, options=options, keepalives=1, keepalives_idle=30)
    conn.autocommit = autocommit
    return conn


def dsn_connection(dsn: str, step: str, system: str = "PostgreSQL") -> psycopg2.extensions.connection:
    """A connection from a libpq DSN/URI (the scratch database); the DSN never appears in errors."""
    register_secret(dsn)
    try:
        parsed = psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        raise ConfigError(f"the {system} connection string is not a valid libpq DSN or URI") from None
    where = f"{parsed.get('host', 'localhost')}:{parsed.get('port', 5432)}/{parsed.get('dbname', '')}"
    return _connect(system, where, step, **parsed)
