"""Faults of the SSH bastion, injected for real on a private devstack (its keys are regenerated here)."""

import dataclasses

import pytest

from devstack import env as envfile
from devstack import stack
from shared.config import load_settings
from shared.connections import redshift_connection
from shared.errors import ConfigError

pytestmark = pytest.mark.live  # a private devstack


@pytest.fixture
def own_stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bastion-faults")
    env = stack.up(directory, with_redshift=True)
    yield env
    stack.down(directory, purge=True)


def _settings_via_bastion(env, known_hosts=None):
    environ = envfile.product_environ(env)  # the Redshift emulator behind the bastion
    assert environ["SSH_BASTION_HOST"] and environ["REDSHIFT_PORT"]
    if known_hosts:
        environ["SSH_BASTION_KNOWN_HOSTS"] = str(known_hosts)
    return load_settings(environ)


def test_changed_host_key_is_refused_not_trusted(own_stack, tmp_path, matrix):
    outcome = matrix.fault("bastion host key changes", "connect", "refused, one line")
    env = own_stack
    with redshift_connection(_settings_via_bastion(env), "dump_schema") as conn, conn.cursor() as cur:
        cur.execute("select 1")
    old_key = env["ssh"]["host_public_key"]
    # A new host key on the same address: what a rebuilt or impersonated bastion looks like.
    stack.stop(env, "ssh")
    (envfile.state_dir(env["state_dir"]) / "ssh" / "host_ed25519").unlink()
    stack.start(env, "ssh")
    envfile.save(env)  # so the fixture's down() stops the restarted bastion too
    assert env["ssh"]["host_public_key"] != old_key
    pinned = tmp_path / "known_hosts"  # what the client trusted before: the old key for this address
    pinned.write_text(f"[127.0.0.1]:{env['ssh']['port']} {old_key}\n")
    with pytest.raises(ConfigError) as caught, redshift_connection(_settings_via_bastion(env, pinned), "dump_schema"):
        pass
    outcome.observed = caught.value.one_line()
    assert "does not match SSH_BASTION_KNOWN_HOSTS; refusing to connect" in outcome.observed


def test_bastion_down_is_a_transient_one_line_error(own_stack, matrix):
    outcome = matrix.fault("bastion stopped", "connect", "transient error (retried by Argo), one line")
    env = own_stack
    settings = _settings_via_bastion(env)
    stack.stop(env, "ssh")
    try:
        with pytest.raises(Exception) as caught, redshift_connection(settings, "dump_schema"):
            pass
        outcome.observed = f"{type(caught.value).__name__}: {caught.value}"
        assert getattr(caught.value, "transient", False), outcome.observed
        assert "\n" not in str(caught.value)
    finally:
        stack.start(env, "ssh")
        envfile.save(env)  # so the fixture's down() stops the restarted bastion too
    with redshift_connection(dataclasses.replace(settings), "dump_schema") as conn, conn.cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)
