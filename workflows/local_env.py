"""What a pod has that a laptop does not, and how run-local provides it.

A pod gets Kubernetes Secrets (as env vars or mounted files), sidecars, and the cloud's endpoints. run-local gets
the same from a LocalEnvironment: secret values (written into each task's pod folder as the kubelet would, see
workflows/pods.py; mount paths in env values and arguments are rewritten to them), a local stand-in per sidecar, and
the emulator endpoints as the only variables the YAML does not set itself. Everything else comes from the rendered YAML unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

LIMITS_FILE = Path(__file__).resolve().parent.parent / "k8s" / "limits.yaml"

# Variables a pod inherits from its image, which a local process must also have to start Python at all.
PASS_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "SYSTEMROOT", "VIRTUAL_ENV")


def process_environ() -> dict[str, str]:
    """What a step process started here inherits, and nothing else: its settings come from the caller."""
    return {key: os.environ[key] for key in PASS_THROUGH if key in os.environ}


@dataclass
class LocalEnvironment:
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # Secret (or ConfigMap) name → key → value
    endpoints: dict[str, str] = field(default_factory=dict)  # emulator endpoints (no cloud here)
    sidecars: dict[str, dict[str, str]] = field(default_factory=dict)  # sidecar name → env its stand-in needs
    # ConfigMap manifests holding the semaphore limits (read again at every acquisition, like an edited ConfigMap)
    config_map_files: tuple[Path, ...] = ()
    semaphore_dir: Path | None = None  # slots shared by every run using it (one per devstack); None = this run's

    def base_environ(self) -> dict[str, str]:
        return process_environ()


def devstack_environment(env: dict) -> tuple[dict[str, str], LocalEnvironment]:
    """Workflow parameters and the local environment that point the rendered Workflow at a running devstack."""
    redshift, postgres, s3, gcs, ssh = env["redshift"], env["postgres"], env["s3"], env["gcs"], env["ssh"]
    parameters = {
        "database": redshift["database"],
        "redshift-host": redshift["host"], "redshift-port": str(redshift["port"]),
        "redshift-user": redshift["user"], "redshift-sslmode": "disable",
        "bastion-host": ssh["host"], "bastion-port": str(ssh["port"]), "bastion-user": ssh["user"],
        "bastion-host-key": ssh["host_public_key"],
        "alloydb-host": postgres["host"], "alloydb-port": str(postgres["port"]),
        "alloydb-database": postgres["databases"]["alloydb"], "alloydb-user": postgres["user"],
        "alloydb-sslmode": "disable",
        "s3-bucket": s3["bucket"], "aws-region": s3["region"],
        "gcs-bucket": gcs["bucket"], "gcp-credentials-file": "",
    }
    secrets = {
        "acceso-aws": {"credentials": f"[default]\naws_access_key_id = {s3['access_key_id']}\n"
                                      f"aws_secret_access_key = {s3['secret_access_key']}\n"},
        # As the old system made it: `kubectl create secret generic acceso-vpn --from-file=key=key`; the
        # bastion's host key is the bastion-host-key parameter.
        "acceso-vpn": {"key": Path(ssh["private_key_file"]).read_text()},
        "r2a-redshift": {"password": redshift["password"]},
        "r2a-alloydb": {"password": postgres["password"]},
    }
    scratch = (f"postgresql://{postgres['user']}:{postgres['password']}@{postgres['host']}:{postgres['port']}/"
               f"{postgres['databases']['scratch']}?sslmode=disable")
    local = LocalEnvironment(
        secrets=secrets,
        endpoints={"AWS_ENDPOINT_URL_S3": s3["endpoint_url"], "STORAGE_EMULATOR_HOST": gcs["endpoint_url"],
                   "GOOGLE_CLOUD_PROJECT": gcs["project"]},
        sidecars={"scratch-postgres": {"R2A_SCRATCH_DSN": scratch}},
        config_map_files=(LIMITS_FILE,),
        semaphore_dir=Path(env["state_dir"]) / "semaphores" if env.get("state_dir") else None)
    return parameters, local
