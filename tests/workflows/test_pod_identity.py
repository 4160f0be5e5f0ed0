"""run-local as the cluster runs a pod: the template's user, and Secret files owned and moded as the kubelet writes them.

Both tests run the rendered dump-schema template (it reads the Redshift password file, the bastion key and
known_hosts) against devstack. The kubelet's behaviour they rely on is cited in workflows/pods.py: files owned by
root, mode = defaultMode, group = fsGroup with group read added only when fsGroup is set."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest
import yaml

from workflows.local_env import devstack_environment
from workflows.pods import Identity, PodError, Pods
from workflows.run_local import RENDERED, run_workflow

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="run-local takes on a template's user only as root")


def _dump_schema_only(tmp_path: Path, change=None) -> Path:
    document = yaml.safe_load((RENDERED / "workflow-local.yaml").read_text())
    spec = document["spec"]
    template = copy.deepcopy(next(t for t in spec["templates"] if t["name"] == "dump-schema"))
    if change:
        change(spec, template)
    spec["templates"] = [{"name": "main", "dag": {"tasks": [{"name": "dump-schema", "template": "dump-schema"}]}},
                         template]
    path = tmp_path / "workflow.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _as_before_issue_16(spec: dict, template: dict) -> None:
    """The images' `USER 10001`, no fsGroup, Secret volumes 0400: what the manifests said before."""
    spec["securityContext"] = template["securityContext"] = {"runAsUser": 10001, "runAsGroup": 10001}
    for volume in template["volumes"]:
        if "secret" in volume:
            volume["secret"]["defaultMode"] = 0o400


def _run(path: Path, devstack: dict, work: Path):
    parameters, local = devstack_environment(devstack)
    parameters["run-id"] = "dev_20260101_000000"
    return run_workflow(path, parameters, local, work, progress=lambda message: None)


def test_without_fs_group_a_0400_secret_is_unreadable_and_the_step_says_so_in_one_line(devstack, redshift, tmp_path):
    result = _run(_dump_schema_only(tmp_path, _as_before_issue_16), devstack, tmp_path / "old")
    node = result.nodes[0]
    assert (node.phase, node.exit_code, node.attempts) == ("Failed", 2, 1)  # bad configuration: not retried
    log = node.log.read_text()
    assert "Traceback" not in log
    errors = [line for line in log.splitlines() if re.match(r"r2a \S+: error: ", line)]
    assert len(errors) == 1, log[-2000:]
    assert re.search(r"cannot read \S*/dump-schema/secrets/(redshift/password|vpn/id_ed25519|vpn/known_hosts) ",
                     errors[0]), errors[0]
    assert "Permission denied" in errors[0]


def test_with_fs_group_and_a_group_readable_mode_the_step_user_reads_its_secrets(devstack, redshift, tmp_path):
    result = _run(_dump_schema_only(tmp_path), devstack, tmp_path / "new")
    node = result.nodes[0]
    assert node.phase == "Succeeded", node.log.read_text()[-2000:]


def _template(*mounts: str) -> dict:
    return {"name": "t", "container": {"volumeMounts": [{"name": m, "mountPath": f"/secrets/{m}"} for m in mounts]}}


@pytest.mark.parametrize(("fs_group", "default_mode", "expected"), [
    (None, 0o400, (0, 0, 0o400)),  # no fsGroup: the mode as written, root's alone
    (10001, 0o400, (0, 10001, 0o440)),  # fsGroup: its group, with group read added
    (10001, 0o440, (0, 10001, 0o440)),
    (None, None, (0, 0, 0o644)),  # no defaultMode: the API's default
])
def test_secret_files_are_written_as_the_kubelet_writes_them(fs_group, default_mode, expected):
    secret = {"secretName": "s"} | ({} if default_mode is None else {"defaultMode": default_mode})
    volumes = {"key": {"name": "key", "secret": secret}, "tmp": {"name": "tmp", "emptyDir": {}}}
    template = _template("key")
    template["container"]["volumeMounts"].append({"name": "tmp", "mountPath": "/tmp"})
    pods = Pods()
    try:
        mounts = pods.prepare("node", template, volumes, {"s": {"id": "v"}}, Identity(10001, 10001, fs_group))
        info = (Path(mounts["/secrets/key"]) / "id").stat()
        assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == expected
        assert Path(mounts["/tmp"]).stat().st_mode & 0o777 == 0o777
    finally:
        pods.close()
    assert not pods.root.exists()


def test_a_missing_secret_is_an_empty_volume_only_when_optional():
    pods = Pods()
    try:
        volumes = {"gcp": {"secret": {"secretName": "absent", "optional": True}},
                   "aws": {"secret": {"secretName": "absent"}},
                   "vpn": {"secret": {"secretName": "s", "items": [{"key": "nope", "path": "nope"}]}}}
        mounts = pods.prepare("a", _template("gcp"), volumes, {}, Identity())
        assert list(Path(mounts["/secrets/gcp"]).iterdir()) == []
        with pytest.raises(PodError, match="secret 'absent' \\(volume aws\\) has no local value"):
            pods.prepare("b", _template("aws"), volumes, {}, Identity())
        with pytest.raises(PodError, match="has no key 'nope'"):
            pods.prepare("c", _template("vpn"), volumes, {"s": {"id": "v"}}, Identity())
    finally:
        pods.close()
