"""S3 → GCS, one part at a time as a stream: never a local file, memory about one read per part in flight.

One S3 GET feeds one GCS PUT (shared/gcs.py's upload_stream). Each part is retried as a whole on transient
failures (a cut GCS upload is never finalized, so a retry starts clean). The stored object's size and CRC32C are
checked against the bytes read from S3, so a truncated or altered stream cannot pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import GCSSettings, S3Settings
from shared.gcs import upload_stream
from shared.objectstore import s3_client, split_url, translated_errors
from shared.retry import DEFAULT_POLICY, RetryPolicy, retry_call
from shared.stopping import raise_if_stopped
from steps.table_transfer.unload import Part


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
    try:
        with translated_errors(destination):
            upload_stream(gcs, gcs_bucket, gcs_key, _Stoppable(body), expected)
    finally:
        body.close()
    return CopiedPart(part, destination, expected)


class _Stoppable:
    """The S3 body, read up to a SIGTERM: stopping then leaves the GCS upload unfinalized, so nothing
    half-written becomes visible."""

    def __init__(self, body) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        raise_if_stopped()
        return self._body.read(size)
