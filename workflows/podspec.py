"""What an r2a pod runs as and what it mounts: security contexts, the Secrets each step reads, emptyDirs.

Kubernetes facts this follows (also what `r2a run-local` reproduces, see workflows/pods.py):
- A Secret volume's files are owned by root. With the pod's `fsGroup` set, the kubelet makes their group the fsGroup
  and adds group read to the mode (read-only volumes get `r--r-----` OR'd in); without fsGroup, `defaultMode` is all
  there is, so a 0400 file is readable by root alone.
  https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#security-context (fsGroup),
  https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod (defaultMode),
  kubernetes/kubernetes#57923 (0400 becomes 0440 under fsGroup).
- `readOnlyRootFilesystem` leaves writable only what is mounted: every path a process writes is an emptyDir.
  https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hera.workflows import models as m

STEP_UID = 10001  # the USER of every step image (steps/*/Dockerfile)
POSTGRES_UID = 999  # user `postgres` in the official postgres image
SECRET_FILE_MODE = 0o440  # owner root, group fsGroup: the step user reads, nobody else does

# The Kubernetes Secrets r2a reads (k8s/secrets.yaml.example creates them).
SECRET_AWS = "acceso-aws"
SECRET_VPN = "acceso-vpn"
SECRET_REDSHIFT = "r2a-redshift"
SECRET_ALLOYDB = "r2a-alloydb"
SECRET_GCP = "r2a-gcp-sa"
# The bastion's public host key is not a secret: besides the bastion-host-key parameter, an optional ConfigMap.
CONFIGMAP_BASTION = "r2a-bastion"
# The sync config may live in a ConfigMap instead of the run bucket: `-p sync-config=/config/sync/<its key>`.
CONFIGMAP_SYNC = "r2a-sync-config"
SYNC_CONFIG_DIR = "/config/sync"
CONFIGMAP_FILE_MODE = 0o444  # public: every user of the pod may read it


def pod_security_context() -> m.PodSecurityContext:
    return m.PodSecurityContext(run_as_non_root=True, run_as_user=STEP_UID, run_as_group=STEP_UID,
                                fs_group=STEP_UID, seccomp_profile=m.SeccompProfile(type="RuntimeDefault"))


def container_security_context(uid: int | None = None) -> m.SecurityContext:
    """Every container, sidecars included; `uid` for an image whose own user is not the pod's."""
    return m.SecurityContext(allow_privilege_escalation=False, read_only_root_filesystem=True, run_as_non_root=True,
                             capabilities=m.Capabilities(drop=["ALL"]),
                             run_as_user=uid, run_as_group=uid)


class _FilesMount:
    """A read-only volume of files; `files` maps the variable that names a file to the key it holds."""

    name: str
    mount_path: str
    files: dict[str, str]

    def mount(self) -> m.VolumeMount:
        return m.VolumeMount(name=self.name, mount_path=self.mount_path, read_only=True)

    def env(self) -> dict[str, str]:
        return {variable: f"{self.mount_path}/{key}" for variable, key in self.files.items()}


@dataclass(frozen=True)
class SecretVolume(_FilesMount):
    """One Secret mounted as files."""

    name: str
    secret: str
    mount_path: str
    files: dict[str, str] = field(default_factory=dict)
    items: tuple[str, ...] = ()  # the keys to project; empty: every key of the Secret
    optional: bool = False

    def volume(self) -> m.Volume:
        items = [m.KeyToPath(key=key, path=key) for key in self.items] or None
        return m.Volume(name=self.name, secret=m.SecretVolumeSource(
            secret_name=self.secret, default_mode=SECRET_FILE_MODE, items=items, optional=self.optional or None))


@dataclass(frozen=True)
class ConfigMapVolume(_FilesMount):
    """An optional ConfigMap mounted as files (public settings)."""

    name: str
    config_map: str
    mount_path: str
    files: dict[str, str] = field(default_factory=dict)

    def volume(self) -> m.Volume:
        return m.Volume(name=self.name, config_map=m.ConfigMapVolumeSource(
            name=self.config_map, default_mode=CONFIGMAP_FILE_MODE, optional=True))


SECRET_VOLUMES: dict[str, SecretVolume | ConfigMapVolume] = {
    # Redshift's CA bundle for verify-full (https://docs.aws.amazon.com/redshift/latest/mgmt/connecting-ssl-support.html)
    "redshift": SecretVolume("redshift", SECRET_REDSHIFT, "/secrets/redshift",
                             {"REDSHIFT_PASSWORD_FILE": "password", "REDSHIFT_SSLROOTCERT": "ca-bundle.crt"}),
    # No `items`: every item of acceso-vpn is projected (`key` as the old system made it, or `id_ed25519`, and
    # `known_hosts` where present). A listed item the Secret lacks fails the pod's volume setup
    # (https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/volume/#SecretVolumeSource).
    "bastion": SecretVolume("vpn-key", SECRET_VPN, "/secrets/vpn",
                            {"SSH_BASTION_KEY_FILE": "{{workflow.parameters.bastion-key-item}}",
                             "SSH_BASTION_KNOWN_HOSTS": "known_hosts"}),
    "bastion-host-key": ConfigMapVolume("bastion-config", CONFIGMAP_BASTION, "/config/bastion",
                                        {"SSH_BASTION_HOST_KEY_FILE": "host-key"}),
    "sync-config": ConfigMapVolume("sync-config", CONFIGMAP_SYNC, SYNC_CONFIG_DIR),
    "aws": SecretVolume("aws-credentials", SECRET_AWS, "/secrets/aws", {"AWS_SHARED_CREDENTIALS_FILE": "credentials"}),
    "alloydb": SecretVolume("alloydb", SECRET_ALLOYDB, "/secrets/alloydb",
                            {"PGPASSWORD_FILE": "password", "PGSSLROOTCERT": "ca.pem"}),
    # Workload Identity needs no key: the gcp-credentials-file parameter names the file when the Secret exists.
    "gcp": SecretVolume("gcp-sa", SECRET_GCP, "/secrets/gcp", optional=True),
}

# Least privilege: what each step's code connects to (workflows/README.md has this table for people).
STEP_SECRETS: dict[str, tuple[str, ...]] = {
    "dump_schema": ("redshift", "bastion", "bastion-host-key", "gcp"),
    "rewrite_ddl": ("gcp",),
    "plan": ("redshift", "bastion", "bastion-host-key", "gcp"),  # a sample of the largest tables' rows
    "validate_restore": ("gcp",),
    "load_schema": ("alloydb", "gcp"),
    "table_transfer": ("redshift", "bastion", "bastion-host-key", "aws", "alloydb", "gcp", "sync-config"),
    "report": ("gcp",),
}


def step_secrets(step: str) -> list[SecretVolume | ConfigMapVolume]:
    return [SECRET_VOLUMES[key] for key in STEP_SECRETS[step]]


@dataclass(frozen=True)
class ScratchDir:
    """An emptyDir for a path a container writes (the root filesystem is read-only)."""

    name: str
    mount_path: str
    size_limit: str = "1Gi"

    def volume(self) -> m.Volume:
        return m.Volume(name=self.name, empty_dir=m.EmptyDirVolumeSource(size_limit=self.size_limit))

    def mount(self) -> m.VolumeMount:
        return m.VolumeMount(name=self.name, mount_path=self.mount_path)


STEP_TMP = ScratchDir("tmp", "/tmp")  # nosec B108  # a private emptyDir of the pod, not a shared /tmp
# The official postgres image writes its cluster under PGDATA (a subfolder, so initdb may set its mode) and its socket
# and lock file under /var/run/postgresql. https://hub.docker.com/_/postgres ("PGDATA", "Arbitrary --user Notes")
SCRATCH_DIRS = (ScratchDir("scratch-data", "/var/lib/postgresql/data", "4Gi"),
                ScratchDir("scratch-run", "/var/run/postgresql", "16Mi"),
                ScratchDir("scratch-tmp", "/tmp", "256Mi"))  # nosec B108  # the pod's own emptyDir
SCRATCH_PGDATA = "/var/lib/postgresql/data/pgdata"
