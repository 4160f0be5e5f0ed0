"""Object stores (S3 for UNLOAD, GCS for run folders) and the run layout, in one place.

`RunLayout` is the only code that builds object keys: every step asks it for the URL of what it reads or
writes. Clients honour emulator endpoints (`AWS_ENDPOINT_URL_S3`, `STORAGE_EMULATOR_HOST`) through settings.
Errors are translated once here into one-line `R2AError`s (missing bucket, bad or expired credentials,
transient 5xx) so no step shows a botocore or google traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import IO, Any
from urllib.parse import urlparse

from shared.config import GCSSettings, S3Settings
from shared.errors import BadInputError, ConfigError, ObjectStoreError, TransientError
from shared.gcs import gcs_client, open_object
from shared.identifiers import TableRef
from shared.log import one_line, register_secret
from shared.retry import is_transient

PARALLEL_READERS = 16  # GCS answers one small object in tens of ms; the pool is widened to match

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def new_run_id(database: str, now: datetime | None = None) -> str:
    """`<database>_<YYYYMMDD_HHMMSS>` in UTC, as the old system named its files."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d_%H%M%S")
    safe_db = re.sub(r"[^A-Za-z0-9_.-]", "_", database) or "db"
    return f"{safe_db}_{stamp}"


def check_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.match(run_id or ""):
        raise BadInputError(f"run id {run_id!r} is not valid (letters, digits, '_', '.', '-'; at most 100)",
                            "Use the form <database>_<YYYYMMDD_HHMMSS>")
    return run_id


def json_document(url: str, data: bytes) -> Any:
    """The JSON in `data` read from `url`; a malformed document is bad input named by its URL."""
    try:
        return json.loads(data)
    except ValueError as exc:
        raise BadInputError(f"{url} is not valid JSON: {exc}") from None


@dataclass(frozen=True)
class RunLayout:
    """Where every artifact of one run lives: `gs://<bucket>/<prefix>/<run_id>/…` and S3 staging."""

    run_id: str
    gcs_bucket: str
    gcs_prefix: str = "r2a"
    s3_bucket: str | None = None
    s3_prefix: str = "r2a"

    def __post_init__(self) -> None:
        check_run_id(self.run_id)

    @classmethod
    def from_settings(cls, run_id: str, gcs: GCSSettings, s3: S3Settings | None = None) -> RunLayout:
        if not gcs.bucket:
            raise ConfigError("missing setting: R2A_GCS_BUCKET", "Name the GCS bucket that holds run folders")
        return cls(run_id=run_id, gcs_bucket=gcs.bucket, gcs_prefix=gcs.prefix.strip("/"),
                   s3_bucket=s3.bucket if s3 else None, s3_prefix=(s3.prefix if s3 else "r2a").strip("/"))

    @property
    def root(self) -> str:
        prefix = f"{self.gcs_prefix}/" if self.gcs_prefix else ""
        return f"gs://{self.gcs_bucket}/{prefix}{self.run_id}/"

    def artifact(self, name: str) -> str:
        return self.root + name

    # Schema phase artifacts (names fixed by DESIGN.md).
    schema_redshift_sql = property(lambda self: self.artifact("schema_redshift.sql"))
    catalog_json = property(lambda self: self.artifact("catalog.json"))
    pre_data_sql = property(lambda self: self.artifact("pre_data.sql"))
    post_data_sql = property(lambda self: self.artifact("post_data.sql"))
    views_sql = property(lambda self: self.artifact("views.sql"))
    compat_sql = property(lambda self: self.artifact("compat.sql"))
    name_map_json = property(lambda self: self.artifact("name_map.json"))
    rewrite_report_json = property(lambda self: self.artifact("rewrite_report.json"))
    schema_alloydb_sql = property(lambda self: self.artifact("schema_alloydb.sql"))
    validation_report_json = property(lambda self: self.artifact("validation_report.json"))
    load_report_json = property(lambda self: self.artifact("load_report.json"))
    tables_json = property(lambda self: self.artifact("tables.json"))
    fanout_json = property(lambda self: self.artifact("fanout.json"))
    post_data_report_json = property(lambda self: self.artifact("post_data_report.json"))
    plan_json = property(lambda self: self.artifact("plan.json"))  # steps/plan: sizes and estimates, before a byte
    lock = property(lambda self: self.artifact("run.lock"))

    @property
    def results_prefix(self) -> str:
        return self.artifact("results/")

    def result(self, table: TableRef) -> str:
        return f"{self.results_prefix}{table.file_stem()}.json"

    def batch(self, batch_id: str) -> str:
        return self.artifact(f"batches/{batch_id}.json")

    def step_result(self, step: str) -> str:
        return self.artifact(f"steps/{step}.json")

    @property
    def report_prefix(self) -> str:
        return self.artifact("report/")

    def report(self, name: str) -> str:
        return self.report_prefix + name

    def unload_prefix(self, table: TableRef, attempt: int) -> str:
        """S3 prefix UNLOAD writes one attempt's files to; a new attempt never sees an older one's files."""
        return f"{self.unload_table_prefix(table)}attempt-{attempt:03d}/"

    def unload_table_prefix(self, table: TableRef) -> str:
        """Every attempt's UNLOAD files of `table` in this run."""
        if not self.s3_bucket:
            raise ConfigError("missing setting: R2A_S3_BUCKET", "Name the S3 bucket UNLOAD writes to")
        prefix = f"{self.s3_prefix}/" if self.s3_prefix else ""
        return f"s3://{self.s3_bucket}/{prefix}{self.run_id}/{table.file_stem()}/"

    def staging_prefix(self, table: TableRef, attempt: int) -> str:
        return f"{self.staging_table_prefix(table)}attempt-{attempt:03d}/"

    def staging_table_prefix(self, table: TableRef) -> str:
        """Every attempt's staged copies of `table` in this run's folder."""
        return self.artifact(f"staging/{table.file_stem()}/")


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


def s3_client(settings: S3Settings):
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
        objects = self.list(prefix_url)
        for info in objects:
            scheme, bucket, key = split_url(info.url)
            with translated_errors(info.url):
                if scheme == "s3":
                    self._s3().delete_object(Bucket=bucket, Key=key)
                else:
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
