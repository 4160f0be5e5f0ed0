"""The S3 emulator (moto's server, with credentials enforced) and the GCS emulator (gcp-storage-emulator, started
through devstack/gcs_emulator.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import boto3
import requests

from devstack import env as envfile
from devstack import processes

S3_REGION = "us-east-1"
S3_BUCKET = "r2a-unload"
GCS_BUCKET = "r2a-artifacts"
GCS_PROJECT = "r2a-devstack"
# moto checks signatures only when IAM auth is on; the first requests (create the user, its key and its policy)
# are allowed without credentials, everything after must be signed with the generated key.
_BOOTSTRAP_REQUESTS = 3
_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def start_s3(port: int, logs: Path, credentials: dict | None) -> tuple[int, dict]:
    """Start moto; returns (pid, credentials). Existing credentials are re-created on a restart."""
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(_BOOTSTRAP_REQUESTS), MOTO_ALLOW_NONEXISTENT_REGION="1")
    process = processes.spawn("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              logs, env=env)
    url = f"http://127.0.0.1:{port}"
    processes.wait_until("s3", lambda: _http_ok(f"{url}/moto-api/"), process, logs)
    anonymous = dict(endpoint_url=url, region_name=S3_REGION, aws_access_key_id="bootstrap",
                     aws_secret_access_key="bootstrap")
    iam = boto3.client("iam", **anonymous)
    iam.create_user(UserName="r2a-devstack")
    key = iam.create_access_key(UserName="r2a-devstack")["AccessKey"]
    iam.put_user_policy(UserName="r2a-devstack", PolicyName="allow-all", PolicyDocument=json.dumps(_ALLOW_ALL))
    credentials = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    s3 = boto3.client("s3", endpoint_url=url, region_name=S3_REGION,
                      aws_access_key_id=credentials["access_key_id"],
                      aws_secret_access_key=credentials["secret_access_key"])
    s3.create_bucket(Bucket=S3_BUCKET)
    return process.pid, credentials


def start_gcs(port: int, logs: Path, storage_dir: Path) -> int:
    """Objects are kept on disk (not in memory) so benchmark-sized tables do not fill RAM."""
    storage_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "devstack.gcs_emulator", "--data-dir", str(storage_dir), "start", "--host",
            "127.0.0.1", "--port", str(port), "--default-bucket", GCS_BUCKET, "--quiet"]
    process = processes.spawn("gcs", argv, logs, cwd=storage_dir,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                  [str(envfile.REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])})
    url = f"http://127.0.0.1:{port}"
    processes.wait_until("gcs", lambda: _http_ok(f"{url}/storage/v1/b/{GCS_BUCKET}"), process, logs)
    return process.pid


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code < 500
    except requests.RequestException:
        return False
