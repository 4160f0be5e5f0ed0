"""Object stores (S3 for UNLOAD, GCS for run folders).

Object keys come from `RunLayout` (shared/layout.py, re-exported here). Clients honour emulator endpoints (`AWS_ENDPOINT_URL_S3`, `STORAGE_EMULATOR_HOST`) through settings.
Errors are translated once here into one-line `R2AError`s (missing bucket, bad or expired credentials,
transient 5xx) so no step shows a botocore or google traceback.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any
from urllib.parse import urlparse

from shared.config import GCSSettings, S3Settings
from shared.errors import BadInputError, ConfigError, ObjectStoreError, TransientError
from shared.gcs import gcs_client, open_object
from shared.layout import RUN_ID_PATTERN, RunLayout, check_run_id, new_run_id  # noqa: F401  (re-exported)
from shared.log import one_line, register_secret
from shared.retry import is_transient

PARALLEL_READERS = 16  # GCS answers one small object in tens of ms; the pool is widened to match

def json_document(url: str, data: bytes) -> Any:
    """The JSON in `data` read from `url`; a malformed document is bad input named by its URL."""
    try:
        return json.loads(data)
    except ValueError as exc:
        raise BadInputError(f"{url} is not valid JSON: {exc}") from None


@dataclass(frozen=True)
class ObjectInfo:
    url: str
    size: int


def split_url(url: str) -> tuple[str, str, str]:
    """`gs://bucket/key` → ("gs", "bucket", "key")."""
    parsed = urlparse(url)
    if parsed.scheme not in ("gs", "s3") or not parsed.netloc:
        raise BadInputError(f"{url!r} is not a gs:// or s3:// URL")
    return parsed.scheme, parsed.netloc, parsed.path.lstrip("/")


# ---------------------------------------------------------------------------------------------- clients

@lru_cache(maxsize=8)
def aws_session(settings: S3Settings):
    """A boto3 session from explicit keys when set, else AWS's standard chain (profile, credentials file, IRSA)."""
    import boto3

    if settings.access_key_id:
        return boto3.session.Session(aws_access_key_id=settings.access_key_id,
                                     aws_secret_access_key=settings.secret_access_key,
                                     aws_session_token=settings.session_token)
    try:
        return boto3.session.Session(profile_name=settings.profile) if settings.profile else boto3.session.Session()
    except Exception as exc:  # ProfileNotFound and friends
        raise ConfigError(f"AWS profile {settings.profile!r} cannot be used: {exc}",
                          "Check AWS_PROFILE and AWS_SHARED_CREDENTIALS_FILE") from None


def aws_credentials(settings: S3Settings):
    """The resolved (frozen) AWS credentials, e.g. for UNLOAD's ACCESS_KEY_ID clause; never log them."""
    credentials = aws_session(settings).get_credentials()
    if credentials is None:
        raise ConfigError("no AWS credentials found (AWS_ACCESS_KEY_ID, AWS_PROFILE or AWS_SHARED_CREDENTIALS_FILE)")
    frozen = credentials.get_frozen_credentials()
    for value in (frozen.secret_key, frozen.token):
        if value:
            register_secret(value)
    return frozen


_S3_CLIENTS = threading.Lock()
# DeleteObjects takes up to 1,000 keys, and reports each key it could not delete in Errors (with Quiet, only those):
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
S3_DELETE_BATCH = 1000


def s3_client(settings: S3Settings):
    """The process's S3 client for these settings. Made once: a client costs about 40 ms of CPU to create, and a
    transfer asks for one per part and per listing. A client is thread-safe once created, its creation from the
    shared session is not, hence the lock ("Multithreading or multiprocessing with clients",
    https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html). Refreshable credentials (IRSA,
    assumed roles) are renewed inside the client."""
    with _S3_CLIENTS:
        return _new_s3_client(settings)


@lru_cache(maxsize=8)
def _new_s3_client(settings: S3Settings):
    from botocore.config import Config

    session = aws_session(settings)
    config = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32,
                    s3={"addressing_style": "path"} if settings.endpoint_url else {})
    return session.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region or "us-east-1",
                          config=config)


@contextmanager
def translated_errors(url: str) -> Iterator[None]:
    """Turn S3/GCS client exceptions into one-line R2AErrors naming the URL."""
    try:
        yield
    except (ObjectStoreError, ConfigError, BadInputError, TransientError):
        raise
    except Exception as exc:
        raise translate_error(exc, url) from None


def translate_error(exc: BaseException, url: str) -> Exception:
    name = type(exc).__name__
    cause = getattr(exc, "cause", None)
    if name == "RetryError" and isinstance(cause, BaseException):  # google-cloud-storage's retries ran out
        translated = translate_error(cause, url)
        if isinstance(translated, TransientError):
            return TransientError(f"{translated.reason}, still after google-cloud-storage's retries")
        return translated
    code, status = "", None
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    elif hasattr(exc, "code"):
        status = getattr(exc, "code", None)
    elif hasattr(response, "status_code"):  # google-cloud-storage's InvalidResponse
        status = response.status_code
    bucket = split_url(url)[1] if url.startswith(("gs://", "s3://")) else url
    if code == "NoSuchBucket" or (name == "NotFound" and "bucket" in str(exc).lower() and "/o/" not in str(exc)):
        return ConfigError(f"bucket {bucket!r} does not exist (while accessing {url})")
    if code in ("NoSuchKey", "404") or name == "NotFound":
        return ObjectStoreError(f"{url} does not exist")
    if code in ("ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"):
        return ConfigError(f"the AWS session token has expired (while accessing {url})",
                           "Refresh the credentials in the acceso-aws secret")
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "AccessDenied", "403") \
            or name in ("Forbidden", "Unauthorized", "NoCredentialsError", "PartialCredentialsError"):
        return ConfigError(f"access to {url} was refused ({code or name})",
                           "Check the credentials and the bucket's permissions")
    if name in ("EndpointConnectionError", "ConnectionError") and not is_transient(exc):
        return ConfigError(f"cannot reach the object store for {url}: {exc}")
    if is_transient(exc):
        return TransientError(f"temporary object-store failure on {url}: {name} {code or status or ''}".strip())
    return ObjectStoreError(f"object-store error on {url}: {name}: {one_line(exc, 200)}")


class ObjectStore:
    """Small URL-based API over both stores: the steps' JSON/SQL artifacts and listings."""

    def __init__(self, s3: S3Settings | None, gcs: GCSSettings | None):
        self._s3_settings, self._gcs_settings = s3, gcs

    @contextmanager
    def _errors(self, url: str) -> Iterator[None]:
        """translated_errors, plus telling a missing GCS bucket from a missing object (the emulator and GCS
        answer both with a plain 404 on object reads)."""
        try:
            with translated_errors(url):
                yield
        except ObjectStoreError as exc:
            scheme, bucket, _ = split_url(url)
            if scheme == "gs" and exc.reason.endswith("does not exist") and not self._gcs_bucket_exists(bucket):
                raise ConfigError(f"bucket {bucket!r} does not exist (while accessing {url})") from None
            raise

    def _gcs_bucket_exists(self, bucket: str) -> bool:
        try:
            return self._gcs().lookup_bucket(bucket) is not None
        except Exception:
            return True  # cannot tell: keep the original error

    def _s3(self):
        if self._s3_settings is None:
            raise ConfigError("S3 is not configured for this step")
        return s3_client(self._s3_settings)

    def _gcs(self):
        if self._gcs_settings is None:
            raise ConfigError("GCS is not configured for this step")
        return gcs_client(self._gcs_settings)

    def read_bytes(self, url: str) -> bytes:
        scheme, bucket, key = split_url(url)
        with self._errors(url):
            if scheme == "s3":
                return self._s3().get_object(Bucket=bucket, Key=key)["Body"].read()
            return self._gcs().bucket(bucket).blob(key).download_as_bytes()

    def read_many(self, urls: list[str], readers: int = PARALLEL_READERS) -> Iterator[tuple[str, bytes | None]]:
        """(url, bytes) for each url in order, read `readers` at a time; None for an object that does not exist.
        A run folder holds thousands of small result files: one at a time would take minutes."""

        def fetch(url: str) -> tuple[str, bytes | None]:
            try:
                return url, self.read_bytes(url)
            except ObjectStoreError as exc:
                if exc.reason.endswith("does not exist"):
                    return url, None
                raise

        with ThreadPoolExecutor(max_workers=readers) as pool:
            yield from pool.map(fetch, urls)

    def read_text(self, url: str) -> str:
        return self.read_bytes(url).decode("utf-8")

    def read_json(self, url: str) -> Any:
        return json_document(url, self.read_bytes(url))

    def write_bytes(self, url: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        scheme, bucket, key = split_url(url)
        with self._errors(url):
            if scheme == "s3":
                self._s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
            else:
                self._gcs().bucket(bucket).blob(key).upload_from_string(data, content_type=content_type)

    def write_text(self, url: str, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        self.write_bytes(url, text.encode("utf-8"), content_type)

    def write_json(self, url: str, value: Any) -> None:
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        self.write_bytes(url, text.encode("utf-8"), "application/json")

    def exists(self, url: str) -> bool:
        scheme, bucket, key = split_url(url)
        with self._errors(url):
            if scheme == "s3":
                listing = self._s3().list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
                return any(item["Key"] == key for item in listing.get("Contents", []))
            return self._gcs().bucket(bucket).blob(key).exists()

    def list(self, prefix_url: str) -> list[ObjectInfo]:
        scheme, bucket, prefix = split_url(prefix_url)
        with translated_errors(prefix_url):
            if scheme == "s3":
                paginator = self._s3().get_paginator("list_objects_v2")
                return [ObjectInfo(f"s3://{bucket}/{item['Key']}", item["Size"])
                        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
                        for item in page.get("Contents", [])]
            return [ObjectInfo(f"gs://{bucket}/{blob.name}", blob.size or 0)
                    for blob in self._gcs().list_blobs(bucket, prefix=prefix)]

    def delete_prefix(self, prefix_url: str) -> int:
        """Every object under the prefix; S3 in requests of up to S3_DELETE_BATCH keys, GCS one by one."""
        objects = self.list(prefix_url)
        scheme, bucket, _ = split_url(prefix_url)
        if scheme == "s3":
            keys = [split_url(info.url)[2] for info in objects]
            for start in range(0, len(keys), S3_DELETE_BATCH):
                batch = [{"Key": key} for key in keys[start:start + S3_DELETE_BATCH]]
                with translated_errors(prefix_url):
                    response = self._s3().delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                refused = response.get("Errors") or []
                if refused:
                    first = refused[0]
                    raise ObjectStoreError(f"{len(refused)} object(s) under {prefix_url} were not deleted, "
                                           f"s3://{bucket}/{first.get('Key')}: {first.get('Code')}")
            return len(objects)
        for info in objects:
            _, _, key = split_url(info.url)
            with translated_errors(info.url):
                self._gcs().bucket(bucket).blob(key).delete()
        return len(objects)

    def open_read(self, url: str) -> IO[bytes]:
        """A streaming binary reader: memory stays at about one buffer whatever the object's size (GCS: one GET,
        resumed where it breaks and checked against the object's CRC32C at the end, see shared/gcs.py)."""
        scheme, bucket, key = split_url(url)
        with self._errors(url):
            if scheme == "s3":
                return self._s3().get_object(Bucket=bucket, Key=key)["Body"]
            return open_object(self._gcs_settings, bucket, key)

    def check_bucket(self, url: str) -> None:
        """Fail early, in one line, when the bucket behind `url` is missing or not ours."""
        scheme, bucket, _ = split_url(url)
        with self._errors(url):
            if scheme == "s3":
                self._s3().head_bucket(Bucket=bucket)
            elif not self._gcs().bucket(bucket).exists():
                raise ConfigError(f"bucket {bucket!r} does not exist (while accessing {url})")
