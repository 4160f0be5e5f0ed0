"""The rendered pods as a cluster runs them: identity, read-only root, Secrets per step, the scratch sidecar, images.

Kubernetes semantics relied on are cited in workflows/podspec.py (fsGroup and Secret file modes, readOnlyRootFilesystem)
and workflows/definitions.py (executor.serviceAccountName, the postgres image's POSTGRES_HOST_AUTH_METHOD)."""

from __future__ import annotations

import pytest
import yaml

from shared.errors import BadInputError
from workflows import definitions as d
from workflows.images import Images, load_digests
from workflows.podspec import SECRET_VOLUMES, STEP_SECRETS, STEP_UID, SecretVolume
from workflows.render import RENDERED_DIR, manifests

WORKFLOWTEMPLATE = RENDERED_DIR / "workflowtemplate-redshift-to-alloydb.yaml"


def _specs():
    for path in sorted(RENDERED_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        spec = document["spec"].get("workflowSpec", document["spec"])
        if "templates" in spec:
            yield path.name, spec


def _containers(template: dict) -> list[dict]:
    return [template["container"], *template.get("sidecars", [])]


def _step_templates():
    for name, spec in _specs():
        for template in spec["templates"]:
            if "container" in template:
                yield name, spec, template


def test_every_pod_runs_as_the_step_user_with_fs_group_and_runtime_default_seccomp():
    assert WORKFLOWTEMPLATE.read_text().count("runAsNonRoot") >= 1
    expected = {"runAsNonRoot": True, "runAsUser": STEP_UID, "runAsGroup": STEP_UID, "fsGroup": STEP_UID,
                "seccompProfile": {"type": "RuntimeDefault"}}
    checked = 0
    for name, spec, template in _step_templates():
        assert spec["securityContext"] == expected, name
        assert template["securityContext"] == expected, (name, template["name"])
        assert spec["automountServiceAccountToken"] is False and spec["executor"]["serviceAccountName"], name
        checked += 1
    assert checked >= 20


def test_every_container_and_sidecar_drops_everything_and_writes_only_to_empty_dirs():
    for name, _, template in _step_templates():
        volumes = {v["name"]: v for v in template.get("volumes", [])}
        for container in _containers(template):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert context["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert context["capabilities"] == {"drop": ["ALL"]}, (name, container["name"])
            assert context.get("runAsUser", STEP_UID) != 0
            writable = [m["mountPath"] for m in container.get("volumeMounts", []) if not m.get("readOnly")]
            assert all("emptyDir" in volumes[m["name"]] for m in container.get("volumeMounts", [])
                       if not m.get("readOnly")), (name, container["name"])
            if container is template["container"]:
                assert "/tmp" in writable, (name, template["name"])


def test_secret_volumes_are_group_readable_under_fs_group_and_no_one_else():
    found = 0
    for name, spec, template in _step_templates():
        assert spec["securityContext"]["fsGroup"] == STEP_UID
        for volume in template.get("volumes", []) + spec.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["defaultMode"] == 0o440, (name, volume)
                found += 1
    assert found > 0


def test_each_step_mounts_only_its_secrets_and_reads_passwords_from_files():
    for name, _, template in _step_templates():
        step = template["container"]["command"][-1].removeprefix("steps.")
        mounted = {v["secret"]["secretName"] for v in template.get("volumes", []) if "secret" in v}
        assert mounted == {SECRET_VOLUMES[key].secret for key in STEP_SECRETS[step]
                           if isinstance(SECRET_VOLUMES[key], SecretVolume)}, (name, template["name"])
        env = {e["name"]: e for e in template["container"]["env"]}
        assert not any("valueFrom" in e for e in env.values()), (name, template["name"])
        assert "REDSHIFT_PASSWORD" not in env and "PGPASSWORD" not in env
        mount_paths = [m["mountPath"] for m in template["container"]["volumeMounts"]]
        for variable in ("REDSHIFT_PASSWORD_FILE", "PGPASSWORD_FILE", "SSH_BASTION_KEY_FILE",
                         "AWS_SHARED_CREDENTIALS_FILE", "PGSSLROOTCERT"):
            if variable in env:
                assert any(env[variable]["value"].startswith(p + "/") for p in mount_paths), (name, variable)
    assert STEP_SECRETS["rewrite_ddl"] == STEP_SECRETS["report"] == STEP_SECRETS["validate_restore"] == ("gcp",)


def test_the_scratch_sidecar_listens_on_loopback_without_a_password():
    for path in RENDERED_DIR.glob("*.yaml"):
        assert "POSTGRES_PASSWORD" not in path.read_text(), path.name
    for _, _, template in _step_templates():
        for sidecar in template.get("sidecars", []):
            if sidecar["name"] != "scratch-postgres":
                continue
            assert sidecar["args"] == ["postgres", "-c", "listen_addresses=127.0.0.1"]
            assert sidecar["securityContext"]["runAsUser"] != 0
            dsn = {e["name"]: e["value"] for e in template["container"]["env"]}["R2A_SCRATCH_DSN"]
            assert "@127.0.0.1:" in dsn and ":" not in dsn.split("@")[0].removeprefix("postgresql://")


def test_unload_uses_the_clusters_iam_role_unless_told_otherwise():
    assert dict((n, v) for n, v, _ in d.WORKFLOW_PARAMETERS)["unload-iam-role"] == "default"


def test_image_registry_and_tag_are_render_options_and_digests_pin_every_image(tmp_path):
    images = Images(registry="europe-docker.pkg.dev/p/r2a", tag="1.2.3")
    text = manifests(images=images)["workflowtemplate-redshift-to-alloydb.yaml"]
    assert "europe-docker.pkg.dev/p/r2a/table-transfer:1.2.3" in text and "ghcr.io/r2a" not in text
    digests = tmp_path / "digests.txt"
    lines = [f"{ref}@sha256:{str(i) * 64}" for i, ref in enumerate(images.references())]
    lines[0] = lines[0].replace(":1.2.3@", "@")  # `docker inspect` RepoDigests carry no tag
    digests.write_text("# built by make images\n" + "\n".join(lines) + "\n")
    pinned = Images(registry=images.registry, tag=images.tag, digests=load_digests(digests))
    rendered = yaml.safe_load(manifests("projects/p/locations/l/clusters/c/instances/i", pinned)[
        "workflowtemplate-redshift-to-alloydb.yaml"])
    refs = {c["image"] for t in rendered["spec"]["templates"] if "container" in t for c in _containers(t)}
    assert len(refs) == 9 and all("@sha256:" in ref for ref in refs), refs  # 7 steps, postgres, auth proxy
    with pytest.raises(BadInputError, match="no digest for image postgres:16"):
        Images(digests={"ghcr.io/r2a/dump-schema": "sha256:" + "0" * 64}).postgres()
    digests.write_text("ghcr.io/r2a/dump-schema:latest\n")
    with pytest.raises(BadInputError, match="digests.txt:1"):
        load_digests(digests)
    with pytest.raises(BadInputError, match="image tag"):
        Images(tag="bad tag")
