"""Host-key pinning against devstack's real SSH bastion, with pins made by the real OpenSSH tools the errors name.

Every accepted form connects; a wrong key, in any form, is refused in one line naming the expected and the offered
fingerprints; with no pin the connection is never made and the line shows the offered key and ssh-keyscan.
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess

import paramiko
import pytest

from shared.bastion_hostkey import host_key_pin, parse_host_key
from shared.config import load_settings
from shared.connections import redshift_connection
from shared.errors import ConfigError

FORGED_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ"
FORGED_FINGERPRINT = "SHA256:T7SvZ2cslqpPj6nKzitCBHHlpVF3r3MvLwmFL0fk0IE"


@pytest.fixture(scope="module")
def keyscan(devstack) -> dict[str, str]:
    ssh = devstack["ssh"]
    line = subprocess.run(["ssh-keyscan", "-t", "ed25519", "-p", str(ssh["port"]), ssh["host"]], check=True,
                          capture_output=True, text=True, timeout=30).stdout.strip()
    keygen = subprocess.run(["ssh-keygen", "-lf", "-"], input=line, check=True, capture_output=True, text=True,
                            timeout=30).stdout.strip()
    return {"line": line, "keygen": keygen, "fingerprint": keygen.split()[1],
            "key only": " ".join(line.split()[1:3])}


@pytest.fixture
def settings(devstack_environ):
    """Through the bastion to the Redshift emulator, with no pin of any kind unless a test gives one."""
    settings = load_settings(devstack_environ)
    return dataclasses.replace(settings, bastion=dataclasses.replace(settings.bastion, known_hosts=None,
                                                                     host_key=None, host_key_file=None))


def _with(settings, **bastion):
    return dataclasses.replace(settings, bastion=dataclasses.replace(settings.bastion, **bastion))


def _select_one(settings) -> tuple:
    with redshift_connection(settings, "test_step") as conn, conn.cursor() as cursor:
        cursor.execute("select 1")
        return cursor.fetchone()


@pytest.mark.parametrize("form", ["line", "key only", "keygen", "fingerprint"])
def test_every_documented_form_of_the_host_key_pins_it(settings, redshift, keyscan, form):
    assert _select_one(_with(settings, host_key=keyscan[form])) == (1,)


def test_the_configmap_file_and_the_known_hosts_item_pin_it(settings, redshift, keyscan, tmp_path):
    given = tmp_path / "host-key"
    given.write_text(keyscan["line"] + "\n")
    assert _select_one(_with(settings, host_key_file=str(given))) == (1,)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(keyscan["line"] + "\n")
    assert _select_one(_with(settings, known_hosts=str(known_hosts))) == (1,)


def test_the_parameter_wins_over_a_stale_known_hosts_item(settings, redshift, keyscan, tmp_path):
    stale = tmp_path / "known_hosts"
    stale.write_text(f"[{settings.bastion.host}]:{settings.bastion.port} {FORGED_KEY}\n")
    assert _select_one(_with(settings, known_hosts=str(stale), host_key=keyscan["fingerprint"])) == (1,)


@pytest.mark.parametrize(("where", "forged"), [
    ("host_key", FORGED_KEY), ("host_key", FORGED_FINGERPRINT), ("host_key_file", FORGED_KEY),
    ("host_key_file", FORGED_FINGERPRINT), ("known_hosts", FORGED_KEY)])  # known_hosts holds keys only
def test_a_wrong_host_key_is_refused_naming_expected_and_offered(settings, redshift, keyscan, tmp_path, where,
                                                                 forged):
    value = forged
    if where != "host_key":
        path = tmp_path / where
        path.write_text(f"[{settings.bastion.host}]:{settings.bastion.port} {forged}\n")
        value = str(path)
    with pytest.raises(ConfigError) as caught:
        _select_one(_with(settings, **{where: value}))
    line = caught.value.one_line()
    assert caught.value.exit_code == 2 and "\n" not in line
    assert f"does not match SSH_BASTION_{where.upper()}; refusing to connect" in line
    assert f"{FORGED_FINGERPRINT}, offered ssh-ed25519 {keyscan['fingerprint']}" in line


def test_no_pin_is_never_trusted_and_shows_the_offered_key_and_keyscan(settings, keyscan, tmp_path):
    absent = tmp_path / "absent"  # the old acceso-vpn has no known_hosts item; the ConfigMap is optional
    with pytest.raises(ConfigError) as caught:
        _select_one(_with(settings, known_hosts=str(absent), host_key_file=str(absent), host_key=""))
    line = caught.value.one_line()
    bastion = settings.bastion
    assert caught.value.exit_code == 2 and "\n" not in line
    assert f"no host key is pinned for bastion {bastion.host}:{bastion.port}" in line
    assert f"it offers ssh-ed25519 {keyscan['fingerprint']}" in line
    assert f"`ssh-keyscan -t ed25519 -p {bastion.port} {bastion.host}`" in line


def test_turning_strict_checking_off_is_the_only_way_to_connect_unpinned_and_it_is_logged(settings, redshift,
                                                                                          caplog):
    assert host_key_pin(_with(settings, strict_host_key=False).bastion) is None
    with caplog.at_level(logging.WARNING, logger="r2a"):
        assert _select_one(_with(settings, strict_host_key=False)) == (1,)
    assert [r.levelno for r in caplog.records if r.getMessage() == "bastion.host_key_unverified"] == [logging.WARNING]


def test_a_bare_host_entry_does_not_pin_a_bastion_on_another_port(settings, keyscan, tmp_path):
    """OpenSSH names a non-22 port's key `[host]:port`; the bare host's entry is the port-22 server's key."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{settings.bastion.host} {keyscan['key only']}\n")
    assert settings.bastion.port != 22
    with pytest.raises(ConfigError, match="has no entry in"):
        _select_one(_with(settings, known_hosts=str(known_hosts)))


@pytest.mark.parametrize("text", ["hello", "ssh-ed25519", "SHA256:short", "ssh-ed25519 !!!notbase64"])
def test_a_pin_that_is_neither_a_key_nor_a_fingerprint_is_one_line(text):
    with pytest.raises(ConfigError) as caught:
        parse_host_key(text, "SSH_BASTION_HOST_KEY")
    assert caught.value.one_line().startswith("SSH_BASTION_HOST_KEY ")
    assert caught.value.exit_code == 2


def test_of_several_keys_the_ed25519_one_is_pinned():
    rsa = paramiko.RSAKey.generate(1024)
    pin = parse_host_key(f"bastion ssh-rsa {rsa.get_base64()}\nbastion {FORGED_KEY}\n", "SSH_BASTION_HOST_KEY")
    assert (pin.key.get_name(), pin.fingerprint) == ("ssh-ed25519", FORGED_FINGERPRINT)
