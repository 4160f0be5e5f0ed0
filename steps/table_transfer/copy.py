"""S3 → GCS, one part at a time as a stream: never a local file, memory about one chunk per part in flight.

Each part is retried as a whole on transient failures (a half-written GCS upload is never finalized, so a
retry starts clean). The uploaded size is checked against S3's, so a truncated stream cannot pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import GCSSettings, S3Settings
from shared.errors import ObjectStoreError
from shared.objectstore import gcs_client, s3_client, split_url, translated_errors
from shared.retry import DEFAULT_POLICY, RetryPolicy, retry_call
from shared.stopping import raise_if_stopped
from steps.table_transfer.unload import Part

CHUNK_BYTES = 8 * 1024 * 1024  # GCS resumable-upload chunk: a multiple of 256 KiB
READ_BYTES = 1024 * 1024


@dataclass(frozen=True)
class CopiedPart:
    source: Part
    url: str  # gs://
    size: int


def staged_url(staging_prefix: str, part: Part) -> str:
    return staging_prefix + part.url.rsplit("/", 1)[-1]


def copy_part(s3: S3Settings, gcs: GCSSettings, part: Part, destination: str,
              policy: RetryPolicy = DEFAULT_POLICY) -> CopiedPart:
    return retry_call(_copy_once, s3, gcs, part, destination, policy=policy, what=f"copy {part.url}")


def _copy_once(s3: S3Settings, gcs: GCSSettings, part: Part, destination: str) -> CopiedPart:
    _, s3_bucket, s3_key = split_url(part.url)
    _, gcs_bucket, gcs_key = split_url(destination)
    with translated_errors(part.url):
        response = s3_client(s3).get_object(Bucket=s3_bucket, Key=s3_key)
    body = response["Body"]
    expected = int(response["ContentLength"])
    blob = gcs_client(gcs).bucket(gcs_bucket).blob(gcs_key, chunk_size=CHUNK_BYTES)
    try:
        with translated_errors(destination), blob.open("wb", content_type="application/octet-stream") as writer:
            while chunk := body.read(READ_BYTES):
                raise_if_stopped()  # leaves the upload unfinalized: nothing half-written becomes visible
                writer.write(chunk)
    finally:
        body.close()
    with translated_errors(destination):
        blob.reload()
    if blob.size != expected:
        raise ObjectStoreError(f"{destination} has {blob.size} bytes after the copy, {part.url} has {expected}",
                               transient=True)
    return CopiedPart(part, destination, expected)
