"""Connections through the real SSH bastion (asyncssh/OpenSSH) to real PostgreSQL, and their failures.

The devstack PostgreSQL stands in for Redshift in the failure tests (the tunnel forwards TCP and does not care
what speaks behind it); the query test goes through the bastion to the Redshift emulator.
"""

import dataclasses
import socket

import pytest

from shared import connections
from shared.config import load_settings
from shared.connections import alloydb_connection, dsn_connection, redshift_connection, reusing_tunnels
from shared.errors import ConfigError, TransientError


@pytest.fixture
def settings(devstack, devstack_environ):
    pg = devstack["postgres"]
    environ = dict(devstack_environ, REDSHIFT_HOST=pg["host"], REDSHIFT_PORT=str(pg["port"]),
                   REDSHIFT_DATABASE="alloydb", REDSHIFT_USER=pg["user"], REDSHIFT_PASSWORD=pg["password"],
                   REDSHIFT_SSLMODE="disable")
    return load_settings(environ)


def test_query_through_the_bastion_sees_names_exactly_as_stored(devstack_environ, redshift):
    settings = load_settings(devstack_environ)
    assert settings.bastion.host and settings.redshift.port == redshift["port"]
    with redshift_connection(settings, "test_step") as conn, conn.cursor() as cur:
        cur.execute("select version()")
        version = cur.fetchone()[0]
        cur.execute("show enable_case_sensitive_identifier")
        case_sensitive = cur.fetchone()[0]
    assert "Redshift" in version
    assert case_sensitive in ("on", "true")


def test_wrong_host_key_is_refused(settings, tmp_path, devstack):
    ssh = devstack["ssh"]
    forged = tmp_path / "known_hosts"
    # A valid ed25519 key that is not the bastion's.
    forged.write_text(f"[{ssh['host']}]:{ssh['port']} ssh-ed25519 "
                      "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n")
    bad = dataclasses.replace(settings, bastion=dataclasses.replace(settings.bastion, known_hosts=str(forged)))
    with pytest.raises(ConfigError) as caught, redshift_connection(bad, "test_step"):
        pass
    assert "does not match SSH_BASTION_KNOWN_HOSTS; refusing to connect" in caught.value.one_line()


def test_unknown_bastion_is_refused_when_strict(settings, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    bad = dataclasses.replace(settings, bastion=dataclasses.replace(settings.bastion, known_hosts=str(empty)))
    with pytest.raises(ConfigError, match="has no entry in"), redshift_connection(bad, "test_step"):
        pass


def test_unreachable_bastion_is_one_line(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    bad = dataclasses.replace(settings, bastion=dataclasses.replace(settings.bastion, port=closed_port))
    with pytest.raises(ConfigError, match="has no entry in"), redshift_connection(bad, "test_step"):
        pass  # known_hosts pins the real port: an unknown port is refused before any connection
    lax = dataclasses.replace(bad, bastion=dataclasses.replace(bad.bastion, strict_host_key=False,
                                                               known_hosts=None))
    with pytest.raises(TransientError) as caught, redshift_connection(lax, "test_step"):
        pass
    assert f"cannot open the SSH tunnel through bastion 127.0.0.1:{closed_port}" in caught.value.one_line()


def test_wrong_password_names_system_and_user_not_password(settings):
    bad = dataclasses.replace(settings, redshift=dataclasses.replace(settings.redshift, password="wrong-pw-123"))
    with pytest.raises(ConfigError) as caught, redshift_connection(bad, "test_step"):
        pass
    message = caught.value.one_line()
    assert "refused the login for user" in message and "wrong user or password" in message
    assert "wrong-pw-123" not in message


def test_alloydb_connection_and_closed_port(settings):
    with alloydb_connection(settings, "load_schema", statement_timeout_s=5) as conn, conn.cursor() as cur:
        cur.execute("select current_setting('statement_timeout'), current_setting('application_name')")
        assert cur.fetchone() == ("5s", "r2a/load_schema")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    bad = dataclasses.replace(settings, alloydb=dataclasses.replace(settings.alloydb, port=closed_port,
                                                                    connect_timeout=3))
    with pytest.raises(TransientError, match=f"cannot connect to AlloyDB at 127.0.0.1:{closed_port}/alloydb"):
        alloydb_connection(bad, "load_schema")


def test_dsn_errors_do_not_echo_the_dsn(devstack):
    pg = devstack["postgres"]
    dsn = f"postgresql://{pg['user']}:not-the-password-987@{pg['host']}:{pg['port']}/scratch"
    with pytest.raises(ConfigError) as caught:
        dsn_connection(dsn, "validate_restore")
    assert "not-the-password-987" not in caught.value.one_line()


def test_a_key_the_bastion_refuses_is_one_line_and_does_not_hang(devstack_environ, tmp_path):
    import time

    import asyncssh

    other = tmp_path / "other_ed25519"
    other.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    settings = load_settings(dict(devstack_environ, SSH_BASTION_KEY_FILE=str(other)))
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught, redshift_connection(settings, "test_step"):
        pass
    assert "refused the SSH login" in caught.value.one_line()
    assert time.monotonic() - started < 20  # sshtunnel's stop() after a failed start used to wait forever


@pytest.mark.parametrize("through_bastion", [True, False], ids=["via bastion", "direct"])
def test_a_redshift_session_lost_in_use_is_transient_and_names_its_path(devstack_environ, redshift,
                                                                       through_bastion):
    """The connection to the Redshift emulator is cut (devstack's fault proxy) between two statements: whatever
    the step was doing, the one-line error says the connection was lost and which way it went."""
    from devstack.faultproxy import FaultProxy

    with FaultProxy(redshift["host"], redshift["port"]) as proxy:
        host, port = proxy.address
        environ = dict(devstack_environ, REDSHIFT_HOST=host, REDSHIFT_PORT=str(port))
        if not through_bastion:
            environ["SSH_BASTION_HOST"] = ""
        settings = load_settings(environ)
        with pytest.raises(TransientError) as caught, redshift_connection(settings, "test_step") as conn:
            with conn.cursor() as cur:
                cur.execute("select 1")
            proxy.cut_all()
            with conn.cursor() as cur:
                cur.execute("select 2")
    line = caught.value.one_line()
    assert line.startswith("the connection to Redshift was lost: ")
    assert f"(Redshift at {host}:{port}" in line
    bastion = f"via bastion {devstack_environ['SSH_BASTION_HOST']}:{devstack_environ['SSH_BASTION_PORT']})"
    assert line.endswith(bastion) == through_bastion, line


def _through(settings) -> int:
    """The local port a Redshift session went through (the tunnel's local end), checked to be usable."""
    with redshift_connection(settings, "test_step") as conn, conn.cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)
        return int(conn.info.port)


def _refuses(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def emulator(devstack_environ, redshift):
    """Settings for the Redshift emulator through the bastion."""
    return load_settings(devstack_environ)


def test_sessions_share_one_tunnel_inside_reusing_tunnels_and_it_closes_after(emulator):
    settings = emulator
    outside = {_through(settings), _through(settings)}
    assert len(outside) == 2  # without reuse, each session has a tunnel of its own
    with reusing_tunnels():
        ports = {_through(settings) for _ in range(3)}
        with reusing_tunnels():  # nested: still the same tunnels, not closed by the inner block
            ports.add(_through(settings))
        ports.add(_through(settings))
    assert len(ports) == 1
    assert _refuses(ports.pop())


def test_a_kept_tunnel_whose_ssh_connection_ended_or_failed_a_login_is_replaced(emulator):
    settings = emulator
    wrong = dataclasses.replace(settings, redshift=dataclasses.replace(settings.redshift, password="not-it"))
    with reusing_tunnels():
        first = _through(settings)
        for tunnel in connections._kept_tunnels.values():  # the bastion hung up on it
            tunnel._forwarder._transport.close()
        second = _through(settings)
        assert second != first and _through(settings) == second
        with pytest.raises(ConfigError), redshift_connection(wrong, "test_step"):
            pass
        third = _through(settings)  # the tunnel a failed login went through is not trusted again
        assert third != second
    assert _refuses(third)
