"""The old system's secrets work as they are: acceso-vpn with its single item `key`, the host key as a parameter.

The old system made the secret with `kubectl create secret generic acceso-vpn -n argo --from-file=key=key`
(../shared/seed), so it holds exactly one item, `key`. A secret volume without `items` projects every item of the
Secret as a file named after it; with `items`, only the listed ones, and a listed item the Secret lacks fails the
pod's volume setup unless the volume is optional
(https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/volume/#SecretVolumeSource).
Kubernetes and its kubelet do not run here: the rendered YAML is checked against those rules, and run-local (which
projects a Secret as one file per item) runs the steps against devstack's real SSH bastion.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import asyncssh
import pytest

from shared.bastion_hostkey import host_key_pin
from shared.config import load_settings
from shared.errors import ConfigError
from shared.objectstore import new_run_id
from tests.workflows.test_lint import specs
from workflows.expressions import substitute
from workflows.local_env import devstack_environment
from workflows.podspec import SECRET_VPN
from workflows.run_local import RENDERED, run_workflow

OLD_VPN_ITEMS = {"key"}
# A valid ed25519 public key that is not devstack's bastion's.
FORGED_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ"
FORGED_FINGERPRINT = "SHA256:T7SvZ2cslqpPj6nKzitCBHHlpVF3r3MvLwmFL0fk0IE"


def _vpn_volume(spec: dict) -> dict:
    every = [*spec.get("volumes", []), *(v for t in spec["templates"] for v in t.get("volumes", []))]
    volumes = {v["name"]: v for v in every if (v.get("secret") or {}).get("secretName") == SECRET_VPN}
    assert len(volumes) == 1, volumes  # one definition, repeated by each template that mounts it
    return next(iter(volumes.values()))


def _containers(spec: dict):
    """The templates that mount acceso-vpn (each step mounts only the Secrets it uses)."""
    vpn = _vpn_volume(spec)["name"]
    return [t for t in spec["templates"]
            if "container" in t and any(m["name"] == vpn for m in t["container"].get("volumeMounts", []))]


def _bastion_environ(spec: dict, template: dict, vpn_folder: Path, **given: str) -> dict[str, str]:
    """The template's SSH_BASTION_* variables with the workflow's parameters (defaults unless given), the vpn mount
    pointing at `vpn_folder`, as the kubelet would present them to the step."""
    parameters = {p["name"]: p.get("value", "") for p in spec["arguments"]["parameters"]} | given
    variables = {f"workflow.parameters.{k}": v for k, v in parameters.items()}
    mount = next(m["mountPath"] for m in template["container"]["volumeMounts"]
                 if m["name"] == _vpn_volume(spec)["name"])
    environ = {}
    for variable in template["container"]["env"]:
        if variable["name"].startswith("SSH_BASTION_") and "value" in variable:
            value = substitute(str(variable["value"]), variables)
            environ[variable["name"]] = value.replace(mount, str(vpn_folder), 1) if value.startswith(mount) else value
    return environ


@pytest.fixture
def bastion_key(tmp_path) -> str:
    return asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()


def test_the_vpn_volume_projects_key_and_no_step_requires_an_item_the_old_secret_lacks(tmp_path, bastion_key):
    old_secret = tmp_path / "acceso-vpn"  # exactly what the kubelet mounts for the old secret
    old_secret.mkdir()
    (old_secret / "key").write_text(bastion_key)
    checked = 0
    for name, spec in specs():
        items = _vpn_volume(spec)["secret"].get("items")
        projected = OLD_VPN_ITEMS if items is None else {item["key"] for item in items}
        assert projected <= OLD_VPN_ITEMS and "key" in projected, (name, items)
        for template in _containers(spec):
            for variable in template["container"]["env"]:
                reference = (variable.get("valueFrom") or {}).get("secretKeyRef") or {}
                assert reference.get("name") != SECRET_VPN or reference["key"] in OLD_VPN_ITEMS, (name, variable)
            environ = _bastion_environ(spec, template, old_secret, **{"bastion-host-key": FORGED_KEY})
            bastion = load_settings(environ).bastion  # a missing key file would be a one-line ConfigError here
            assert bastion.key_file == str(old_secret / "key"), (name, template["name"])
            pin = host_key_pin(bastion)  # the known_hosts item and the ConfigMap are absent: the parameter pins
            assert (pin.source, pin.fingerprint) == ("SSH_BASTION_HOST_KEY", FORGED_FINGERPRINT)
            checked += 1
    assert checked >= 7


def test_our_example_layout_is_chosen_by_the_bastion_key_item_parameter(tmp_path, bastion_key):
    example = tmp_path / "acceso-vpn"
    example.mkdir()
    (example / "id_ed25519").write_text(bastion_key)
    (example / "known_hosts").write_text(f"bastion.example.internal {FORGED_KEY}\n")
    for name, spec in specs():
        template = _containers(spec)[0]
        environ = _bastion_environ(spec, template, example, **{"bastion-key-item": "id_ed25519"})
        bastion = load_settings(environ).bastion
        assert bastion.key_file == str(example / "id_ed25519"), name
        pin = host_key_pin(bastion)
        assert (pin.source, pin.fingerprint) == ("SSH_BASTION_KNOWN_HOSTS", FORGED_FINGERPRINT), name


def test_without_any_host_key_the_rendered_step_settings_stop_with_the_keyscan_command(tmp_path, bastion_key):
    old_secret = tmp_path / "acceso-vpn"
    old_secret.mkdir()
    (old_secret / "key").write_text(bastion_key)
    name, spec = next(specs())
    environ = _bastion_environ(spec, _containers(spec)[0], old_secret, **{"bastion-host": "127.0.0.1",
                                                                          "bastion-port": "1"})
    with pytest.raises(ConfigError) as caught:
        host_key_pin(load_settings(environ).bastion)
    line = caught.value.one_line()
    assert "no host key is pinned for bastion 127.0.0.1:1" in line and "ssh-keyscan -t ed25519 -p 1 127.0.0.1" in line
    assert "\n" not in line and caught.value.exit_code == 2


def test_devstack_runs_with_the_secret_exactly_as_the_old_command_makes_it(devstack):
    """`make demo` and the run-local tests use this layout, so the demo's success is the acceptance run."""
    parameters, local = devstack_environment(devstack)
    assert set(local.secrets[SECRET_VPN]) == OLD_VPN_ITEMS
    assert local.secrets[SECRET_VPN]["key"] == Path(devstack["ssh"]["private_key_file"]).read_text()
    assert parameters["bastion-host-key"] == devstack["ssh"]["host_public_key"]
    assert parameters.get("bastion-key-item", "key") == "key"


def _keyscan(devstack) -> tuple[str, str]:
    """The bastion's key line and fingerprint, from the real OpenSSH tools the error message names."""
    ssh = devstack["ssh"]
    line = subprocess.run(["ssh-keyscan", "-t", "ed25519", "-p", str(ssh["port"]), ssh["host"]], check=True,
                          capture_output=True, text=True, timeout=30).stdout.strip()
    fingerprint = subprocess.run(["ssh-keygen", "-lf", "-"], input=line, check=True, capture_output=True, text=True,
                                 timeout=30).stdout.split()[1]
    return line, fingerprint


def _run(devstack, tmp_path, **changes):
    parameters, local = devstack_environment(devstack)
    parameters["run-id"] = new_run_id(parameters["database"])
    secrets = changes.pop("secrets", {})
    local.secrets.update(secrets)
    parameters.update(changes)
    return run_workflow(RENDERED / "workflow-local.yaml", parameters, local, tmp_path / "run", retry_backoff_s=0,
                        progress=lambda _: None)


def _error_lines(node) -> list[str]:
    return [line for line in node.log.read_text().splitlines() if line.startswith("r2a dump_schema: error:")]


@pytest.mark.parametrize("forged", [FORGED_KEY, FORGED_FINGERPRINT], ids=["key line", "fingerprint"])
def test_run_local_with_a_wrong_host_key_fails_with_exit_2_and_one_line(devstack, redshift, tmp_path, forged):
    _, offered = _keyscan(devstack)
    result = _run(devstack, tmp_path, **{"bastion-host-key": forged})
    dump = next(n for n in result.nodes if n.name == "dump-schema")
    assert (result.phase, dump.exit_code, dump.attempts) == ("Failed", 2, 1)  # exit 2 is not retried
    [line] = _error_lines(dump)
    assert "does not match SSH_BASTION_HOST_KEY; refusing to connect" in line
    assert f"expected {'ssh-ed25519 ' if forged == FORGED_KEY else ''}{FORGED_FINGERPRINT}, " \
           f"offered ssh-ed25519 {offered}" in line
    assert {n.phase for n in result.nodes if n.name != "dump-schema"} <= {"Omitted", "Skipped"}


def test_run_local_without_a_host_key_stops_and_shows_how_to_get_it(devstack, redshift, tmp_path):
    _, offered = _keyscan(devstack)
    result = _run(devstack, tmp_path, **{"bastion-host-key": ""})
    dump = next(n for n in result.nodes if n.name == "dump-schema")
    assert (result.phase, dump.exit_code) == ("Failed", 2)
    [line] = _error_lines(dump)
    ssh = devstack["ssh"]
    assert f"it offers ssh-ed25519 {offered}" in line
    assert f"`ssh-keyscan -t ed25519 -p {ssh['port']} {ssh['host']}`" in line


def test_run_local_reads_the_host_key_from_the_optional_configmap(devstack, redshift, tmp_path):
    result = _run(devstack, tmp_path, **{"bastion-host-key": "", "secrets": {"r2a-bastion": {"host-key": FORGED_KEY}}})
    dump = next(n for n in result.nodes if n.name == "dump-schema")
    assert dump.exit_code == 2
    [line] = _error_lines(dump)
    assert "does not match SSH_BASTION_HOST_KEY_FILE" in line and FORGED_FINGERPRINT in line


def test_run_local_dry_run_with_our_example_layout_and_its_known_hosts_item(devstack, sample_redshift, tmp_path):
    key_line, _ = _keyscan(devstack)
    example = {"id_ed25519": Path(devstack["ssh"]["private_key_file"]).read_text(), "known_hosts": key_line + "\n"}
    result = _run(devstack, tmp_path, **{"bastion-host-key": "", "bastion-key-item": "id_ed25519", "dry-run": "true",
                                         "secrets": {SECRET_VPN: example}})
    assert result.phase == "Succeeded", [(n.name, n.phase, n.log) for n in result.failed_nodes]
    assert {n.name for n in result.nodes if n.phase == "Succeeded"} >= {"dump-schema", "rewrite-ddl",
                                                                        "validate-restore"}
