"""What the kubelet does for a task's pod, done by run-local: the template's volumes written as the kubelet writes
them, and, when run-local runs as root, the template's user and groups for the task's process.

Secret volumes (https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod): one
file per key (or per listed item), mode `items[].mode` or `defaultMode` (API default 0644), owned by root. The pod's
`fsGroup` (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#security-context) becomes
the files' group and read for that group is added (a read-only volume gets 0440 OR'd in: kubelet's SetVolumeOwnership,
kubernetes/kubernetes#57923 shows 0400 turning into 0440); without fsGroup the mode is left as it is. A missing
Secret is an empty volume when `optional`, else the pod cannot start. emptyDir: an empty folder every container may
write (the kubelet creates it 0777), group fsGroup when set.

Without root nothing can be chowned or demoted: files belong to the current user, who also runs the task.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SECRET_DEFAULT_MODE = 0o644
READ_ONLY_GROUP_BITS = 0o440
EMPTY_DIR_MODE = 0o777


class PodError(Exception):
    """The pod could not be set up as the kubelet would (one line, names the volume)."""


@dataclass(frozen=True)
class Identity:
    """Who the task's process is: runAsUser/runAsGroup (the container's over the pod's), fsGroup, supplemental groups."""

    uid: int | None = None
    gid: int | None = None
    fs_group: int | None = None
    supplemental: tuple[int, ...] = ()

    @classmethod
    def of(cls, spec: dict, template: dict) -> Identity:
        pod = {**(spec.get("securityContext") or {}), **(template.get("securityContext") or {})}
        container = (template.get("container") or {}).get("securityContext") or {}
        uid = container.get("runAsUser", pod.get("runAsUser"))
        gid = container.get("runAsGroup", pod.get("runAsGroup"))
        return cls(uid=uid, gid=gid if gid is not None else uid, fs_group=pod.get("fsGroup"),
                   supplemental=tuple(pod.get("supplementalGroups") or ()))

    @property
    def groups(self) -> list[int]:
        return sorted({*self.supplemental, *(() if self.fs_group is None else (self.fs_group,))})

    def enforced(self) -> bool:
        """Only root can become another user; a template without runAsUser runs as run-local's own user."""
        return os.geteuid() == 0 and self.uid is not None

    def preexec(self) -> Callable[[], None] | None:
        if not self.enforced():
            return None
        uid, gid, groups = self.uid, self.gid, self.groups

        def demote() -> None:
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)

        return demote


class Pods:
    """One folder per task node under a private root; each holds that pod's volumes at their mount paths."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="r2a-pods-"))
        if os.geteuid() == 0:
            os.chmod(self.root, 0o711)  # nosec B103  # a demoted task passes through to its own pod folder, lists none

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def prepare(self, node: str, template: dict, volumes: dict[str, dict], secrets: dict[str, dict[str, str]],
                identity: Identity) -> dict[str, str]:
        """Write the volumes the template's container mounts; returns mount path → local folder."""
        pod = self.root / node
        mounts: dict[str, str] = {}
        for mount in (template.get("container") or {}).get("volumeMounts", []):
            volume = volumes.get(mount["name"])
            if volume is None:
                raise PodError(f"volumeMount {mount['name']!r} of {template['name']} names no volume")
            folder = pod / mount["mountPath"].strip("/")
            _make_parents(pod, folder)
            if "secret" in volume:
                _write_secret(folder, volume["secret"], secrets, identity, mount["name"])
            elif "configMap" in volume:  # the same files, named by `name`; local values sit beside the Secrets'
                source = volume["configMap"]
                _write_secret(folder, {**source, "secretName": source.get("name")}, secrets, identity, mount["name"])
            elif "emptyDir" in volume:
                _make_empty_dir(folder, identity)
            else:
                raise PodError(f"volume {mount['name']!r} of {template['name']}: only secret, configMap and emptyDir run "
                              "locally")
            mounts[mount["mountPath"]] = str(folder)
        return mounts


    def argo_dir(self, node: str, identity: Identity) -> Path:
        """The emptyDir Argo's executor mounts at /var/run/argo in every main container, where the pod writes its
        progress file (ARGO_PROGRESS_FILE, https://argo-workflows.readthedocs.io/en/latest/progress/)."""
        pod = self.root / node
        folder = pod / "var" / "run" / "argo"
        _make_parents(pod, folder)
        _make_empty_dir(folder, identity)
        return folder


def _make_parents(pod: Path, folder: Path) -> None:
    pod.mkdir(mode=0o755, exist_ok=True)
    for parent in reversed(folder.relative_to(pod).parents):
        path = pod / parent
        path.mkdir(mode=0o755, exist_ok=True)
    folder.mkdir(mode=0o755, exist_ok=True)


def _write_secret(folder: Path, source: dict, secrets: dict[str, dict[str, str]], identity: Identity,
                  volume: str) -> None:
    name = source.get("secretName")
    values = secrets.get(name)
    if values is None:
        if source.get("optional"):
            return
        raise PodError(f"secret {name!r} (volume {volume}) has no local value")
    default_mode = source.get("defaultMode", SECRET_DEFAULT_MODE)
    items = source.get("items") or [{"key": key, "path": key} for key in values]
    for item in items:
        if item["key"] not in values:
            if source.get("optional"):
                continue
            raise PodError(f"secret {name!r} (volume {volume}) has no key {item['key']!r}")
        mode = item.get("mode", default_mode)
        if identity.fs_group is not None:
            mode |= READ_ONLY_GROUP_BITS
        path = folder / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(values[item["key"]])
        if os.geteuid() == 0:
            os.chown(path, 0, identity.fs_group if identity.fs_group is not None else 0)
        else:
            mode |= 0o400  # the owner here is the user who also runs the task, standing in for root
        os.chmod(path, mode)


def _make_empty_dir(folder: Path, identity: Identity) -> None:
    if os.geteuid() == 0 and identity.fs_group is not None:
        os.chown(folder, 0, identity.fs_group)
    os.chmod(folder, EMPTY_DIR_MODE)
