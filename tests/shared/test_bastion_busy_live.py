"""A busy bastion that drops a connection before the login ends is tried again; a key it refuses is not.

OpenSSH's sshd drops unauthenticated connections at random once more than MaxStartups (default 10:30:100) are
pending (sshd_config(5), MaxStartups), which is what many table_transfer pods starting at once meet: the client
sees the connection end before the SSH banner, or during the login. Here a FaultProxy in front of devstack's real
bastion drops the first connection before any byte, and a bastion of this test (devstack's asyncssh bastion with
one change) drops a connection in the middle of its login. A refused key must still fail at once, in one try.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import asyncssh
import pytest

from devstack import bastion as devstack_bastion
from devstack.faultproxy import Fault, FaultProxy
from shared.config import load_settings
from shared.connections import TUNNEL_STARTS, redshift_connection
from shared.errors import ConfigError, TransientError


def _through(settings, port: int, **bastion):
    return dataclasses.replace(settings, bastion=dataclasses.replace(
        settings.bastion, host="127.0.0.1", port=port, known_hosts=None, host_key_file=None, **bastion))


def _select_one(settings) -> tuple:
    with redshift_connection(settings, "test_step") as conn, conn.cursor() as cursor:
        cursor.execute("select 1")
        return cursor.fetchone()


@pytest.fixture
def settings(devstack, devstack_environ, redshift):
    return load_settings(devstack_environ)


class _LoginDropper(devstack_bastion._Bastion):
    """devstack's bastion, except that it hangs up in the middle of the first `drops` logins."""

    def __init__(self, user: str, allowed: set[bytes], counter: dict) -> None:
        super().__init__(user, allowed)
        self._counter = counter

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._counter["connections"] += 1

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        if self._counter["dropped"] < self._counter["drops"]:
            self._counter["dropped"] += 1
            self._conn.abort()
            return False
        return super().validate_public_key(username, key)


@pytest.fixture
def login_dropper(devstack):
    """(port, counter) of a bastion on its own loop that forwards like devstack's and drops chosen logins."""
    ssh = devstack["ssh"]
    allowed = {asyncssh.import_public_key(line).public_data
               for line in open(ssh["authorized_keys_file"]).read().splitlines() if line.strip()}
    counter = {"connections": 0, "dropped": 0, "drops": 1}
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="login-dropper", daemon=True).start()

    async def listen() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen("127.0.0.1", 0, server_host_keys=[ssh["host_key_file"]], allow_scp=False,
                                     server_factory=lambda: _LoginDropper(ssh["user"], allowed, counter))

    server = asyncio.run_coroutine_threadsafe(listen(), loop).result(10)
    yield server.sockets[0].getsockname()[1], counter
    server.close()
    asyncio.run_coroutine_threadsafe(server.wait_closed(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)


def test_a_connection_dropped_before_the_banner_is_tried_again(settings, devstack):
    with FaultProxy("127.0.0.1", devstack["ssh"]["port"]) as proxy:
        proxy.set_fault(Fault.reset_after(0, count=1))
        assert _select_one(_through(settings, proxy.address[1], host_key=devstack["ssh"]["host_public_key"])) \
            == (1,)
        assert (proxy.stats.injected, proxy.stats.connections) == (1, 2)


def test_a_connection_dropped_during_the_login_is_tried_again(settings, devstack, login_dropper):
    port, counter = login_dropper
    assert _select_one(_through(settings, port, host_key=devstack["ssh"]["host_public_key"])) == (1,)
    assert (counter["dropped"], counter["connections"]) == (1, 2)


def test_a_bastion_that_drops_every_login_is_a_transient_one_line_error(settings, devstack, login_dropper):
    port, counter = login_dropper
    counter["drops"] = 99
    with pytest.raises(TransientError) as caught:
        _select_one(_through(settings, port, host_key=devstack["ssh"]["host_public_key"]))
    assert caught.value.one_line().endswith(
        f"bastion 127.0.0.1:{port} closed the connection during the SSH login ({TUNNEL_STARTS} tries)")
    assert counter["connections"] == TUNNEL_STARTS


def test_a_refused_key_is_not_tried_again(settings, devstack, tmp_path):
    other = tmp_path / "other_ed25519"
    other.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    with FaultProxy("127.0.0.1", devstack["ssh"]["port"]) as proxy:
        refused = _through(settings, proxy.address[1], host_key=devstack["ssh"]["host_public_key"],
                           key_file=str(other))
        with pytest.raises(ConfigError) as caught:
            _select_one(refused)
        assert proxy.stats.connections == 1
    assert "refused the SSH login (check SSH_BASTION_USER and SSH_BASTION_KEY_FILE)" in caught.value.one_line()


# What paramiko 5.1 and sshtunnel logged when devstack's asyncssh bastion hung up right after an
# mlkem768x25519-sha256 key exchange whose first encrypted packet did not decrypt (a CI run of 2026-12-06), and what
# they log for a refused key.
ENDED_AFTER_KEX = ["Kex: mlkem768x25519-sha256", "=== End of kex handshake ===", "EOF in transport thread",
                   "Exception (client): Invalid packet blocking",
                   "Could not connect to gateway 127.0.0.1:54843 : Invalid packet blocking"]
REFUSED = ["=== End of kex handshake ===", "Authentication (publickey) failed.", "EOF in transport thread",
           "Authentication error"]


def test_a_connection_that_ended_right_after_the_key_exchange_is_tried_again_a_refused_key_is_not():
    from shared.connections import _dropped_by_a_busy_bastion

    assert _dropped_by_a_busy_bastion(ENDED_AFTER_KEX) is True
    assert _dropped_by_a_busy_bastion(REFUSED) is False
    assert _dropped_by_a_busy_bastion(["Could not connect to gateway 127.0.0.1:1 : [Errno 111] Connection refused"]) \
        is False
