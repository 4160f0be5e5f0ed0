"""GCS: the client, and object bodies moved in ONE streaming request each way, checked by CRC32C.

google-cloud-storage reads a blob as ranged GETs of `chunk_size` (BlobReader) and writes one as chunk PUTs, each
chunk held whole in memory (BlobWriter). For a 64 MB unload part that is 16 round trips of 4 MB each way, and the
GCS emulator even reads the whole object from disk again for every range (measured on devstack: 1.13 s to read
64 MB in 4 MB ranges, 0.06 s in one GET; 1.06 s to write it in 8 MB chunks, 0.43 s in one PUT). Here a part is
read in one GET, taken from the socket as it arrives and resumed with a Range header where a connection breaks,
and written in one PUT of a single-request resumable upload whose body is read from its source as it is sent.
Memory stays at one read either way. Both check a CRC32C: the GET's bytes against the `x-goog-hash` GCS sends,
the PUT's bytes against the checksum of the object GCS stored.

The media endpoints are GCS's documented JSON API (objects.get `?alt=media`, resumable uploads), called through
google-auth's AuthorizedSession on the same credentials as the client.
"""

from __future__ import annotations

import base64
import io
import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import IO
from urllib.parse import quote

from shared.config import GCSSettings
from shared.errors import ConfigError, ObjectStoreError
from shared.log import one_line
from shared.retry import is_transient, retry_call

GCS_CONNECTIONS = 32  # parallel readers/writers per process (the report reads 16 at once, a transfer 4+4 parts)
PUBLIC_ENDPOINT = "https://storage.googleapis.com"
TIMEOUT_S = (30, 120)  # (connect, longest silence between two reads)
RESUMES = 5  # a GET broken in the middle of the body is resumed where it stopped, at most this many times
READ_BUFFER = 1024 * 1024  # socket reads of a GET; reads of an upload's source

log = logging.getLogger("r2a")


@dataclass(frozen=True)
class _Access:
    credentials: object
    project: str | None
    endpoint: str | None  # None: the client's default (storage.googleapis.com)


@lru_cache(maxsize=8)
def _access(settings: GCSSettings) -> _Access:
    if settings.emulator_host:
        from google.auth.credentials import AnonymousCredentials

        endpoint = settings.emulator_host
        if not endpoint.startswith("http"):
            endpoint = f"http://{endpoint}"
        return _Access(AnonymousCredentials(), settings.project or "r2a", endpoint.rstrip("/"))
    import google.auth
    from google.cloud import storage

    try:
        credentials, project = google.auth.default(scopes=storage.Client.SCOPE)
    except Exception as exc:  # DefaultCredentialsError
        raise ConfigError(f"no Google credentials: {one_line(exc, 200)}",
                          "Use Workload Identity or set GOOGLE_APPLICATION_CREDENTIALS") from None
    return _Access(credentials, settings.project or project, None)


@lru_cache(maxsize=8)
def gcs_client(settings: GCSSettings):
    from google.cloud import storage

    access = _access(settings)
    options = {"api_endpoint": access.endpoint} if access.endpoint else None
    client = storage.Client(project=access.project, credentials=access.credentials, client_options=options)
    try:
        _wider_pool(client._http)  # private attribute: if it goes away, the default pool of 10 stays
    except AttributeError:
        pass
    return client


@lru_cache(maxsize=8)
def gcs_session(settings: GCSSettings):
    """An authorized requests session for the media endpoints (thread-safe, pooled like the client's)."""
    from google.auth.transport.requests import AuthorizedSession

    return _wider_pool(AuthorizedSession(_access(settings).credentials))


def _wider_pool(session):
    """requests keeps 10 connections per host by default: more threads than that open and discard connections and
    warn "Connection pool is full" into the step's log."""
    import requests.adapters

    adapter = requests.adapters.HTTPAdapter(pool_connections=GCS_CONNECTIONS, pool_maxsize=GCS_CONNECTIONS)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def media_url(settings: GCSSettings, bucket: str, key: str) -> str:
    base = _access(settings).endpoint or PUBLIC_ENDPOINT
    return f"{base}/download/storage/v1/b/{quote(bucket, safe='')}/o/{quote(key, safe='')}?alt=media"


def _raise_for_status(response, expected: tuple[int, ...]) -> None:
    if response.status_code not in expected:
        from google.api_core.exceptions import from_http_response

        error = from_http_response(response)  # NotFound, Forbidden, ServiceUnavailable…: what translate_error knows
        response.close()
        raise error


def _crc32c_header(value: str | None) -> str | None:
    """The base64 CRC32C out of an `x-goog-hash: crc32c=…,md5=…` header (absent: cannot check)."""
    for item in (value or "").split(","):
        name, _, digest = item.strip().partition("=")
        if name == "crc32c" and digest:
            return digest
    return None


def _base64(checksum) -> str:
    return base64.b64encode(checksum.digest()).decode("ascii")


# ------------------------------------------------------------------------------------------------ reading

def open_object(settings: GCSSettings, bucket: str, key: str) -> IO[bytes]:
    """The object's bytes as a stream: one GET (retried while it cannot start, resumed where it breaks), memory
    one buffer; the end of the stream raises if the bytes read are not the object's (length, CRC32C)."""
    return io.BufferedReader(_ObjectBody(settings, bucket, key), READ_BUFFER)


class _ObjectBody(io.RawIOBase):
    def __init__(self, settings: GCSSettings, bucket: str, key: str) -> None:
        import google_crc32c

        self._session, self._url = gcs_session(settings), media_url(settings, bucket, key)
        self._name = f"gs://{bucket}/{key}"
        self._offset = self._resumes = 0
        self._size: int | None = None
        self._expected_crc32c: str | None = None
        self._generation: str | None = None
        self._crc32c = google_crc32c.Checksum()
        self._response = retry_call(self._request, what=f"read {self._name}")

    def _request(self):
        headers, url = {"Accept-Encoding": "identity"}, self._url
        if self._offset:
            headers["Range"] = f"bytes={self._offset}-"
            if self._generation:
                url += f"&generation={self._generation}"  # the same object, even if it was replaced meanwhile
        response = self._session.get(url, headers=headers, stream=True, timeout=TIMEOUT_S)
        _raise_for_status(response, (206,) if self._offset else (200,))
        if not self._offset:
            length = response.headers.get("Content-Length")
            self._size = int(length) if length is not None else None
            self._expected_crc32c = _crc32c_header(response.headers.get("x-goog-hash"))
            self._generation = response.headers.get("x-goog-generation")
        return response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while True:
            try:
                data = self._response.raw.read(len(buffer))
            except Exception as exc:
                self._resume(exc)
                continue
            if data:
                count = len(data)
                buffer[:count] = data
                self._crc32c.update(data)
                self._offset += count
                return count
            self._check_complete()
            return 0

    def _resume(self, error: Exception) -> None:
        self._response.close()
        if not is_transient(error) or self._resumes >= RESUMES:
            raise ObjectStoreError(f"reading {self._name} broke at byte {self._offset}: {type(error).__name__}",
                                   transient=is_transient(error)) from error
        self._resumes += 1
        log.warning("resuming read", extra={"fields": {"url": self._name, "offset": self._offset,
                                                       "error": type(error).__name__}})
        time.sleep(min(0.5 * 2 ** (self._resumes - 1), 8))
        self._response = retry_call(self._request, what=f"resume {self._name}")

    def _check_complete(self) -> None:
        if self._size is not None and self._offset != self._size:
            raise ObjectStoreError(f"{self._name} ended after {self._offset} of {self._size} bytes", transient=True)
        if self._expected_crc32c and _base64(self._crc32c) != self._expected_crc32c:
            raise ObjectStoreError(f"{self._name}: the bytes read do not match the object's CRC32C", transient=True)

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()


# ------------------------------------------------------------------------------------------------ writing

def upload_stream(settings: GCSSettings, bucket: str, key: str, source, size: int,
                  content_type: str = "application/octet-stream") -> int:
    """Write `size` bytes read from `source` (anything with read(n)) as gs://bucket/key in one PUT; returns the
    size stored. The object appears only once every byte has arrived (a cut upload is never finalized); raises a
    transient error when the source gave another length or GCS stored other bytes than were sent."""
    name = f"gs://{bucket}/{key}"
    blob = gcs_client(settings).bucket(bucket).blob(key)
    session_url = blob.create_resumable_upload_session(content_type=content_type, size=size)
    body = _SentBody(source, size)
    # Content-Range says this one request is the whole object: what arrives shorter is not an object.
    whole = f"bytes 0-{size - 1}/{size}" if size else "bytes */0"
    response = gcs_session(settings).put(session_url, data=body, timeout=TIMEOUT_S,
                                         headers={"Content-Length": str(size), "Content-Range": whole})
    if response.status_code == 308:  # GCS kept what arrived and waits for the rest: it never comes
        raise ObjectStoreError(f"{name}: GCS received only part of the upload", transient=True)
    _raise_for_status(response, (200, 201))
    stored = response.json()
    if source.read(1):
        raise ObjectStoreError(f"{name}: the upload's source has more than the {size} bytes expected",
                               transient=True)
    if int(stored.get("size", -1)) != size:
        raise ObjectStoreError(f"{name} has {stored.get('size')} bytes after the upload, {size} were sent",
                               transient=True)
    if stored.get("crc32c") and stored["crc32c"] != _base64(body.crc32c):
        raise ObjectStoreError(f"{name}: GCS stored other bytes than were sent (CRC32C)", transient=True)
    return size


class _SentBody:
    """What requests sends: a known length (so Content-Length, not chunked) read from the source in big reads.
    Deliberately not an io object: requests would ask it for tell() and fall back to a chunked upload."""

    def __init__(self, source, size: int) -> None:
        import google_crc32c

        self._source, self._size = source, size
        self._pending = memoryview(b"")
        self.sent = 0
        self.crc32c = google_crc32c.Checksum()

    def __len__(self) -> int:
        return self._size

    def read(self, size: int = -1) -> bytes:
        if not self._pending:
            if self.sent >= self._size:
                return b""
            data = self._source.read(min(READ_BUFFER, self._size - self.sent))
            if not data:  # ends the request at once: GCS would wait for the missing bytes until the timeout
                raise ObjectStoreError(f"the upload's source ended after {self.sent} of {self._size} bytes",
                                       transient=True)
            self.crc32c.update(data)
            self._pending = memoryview(data)
        wanted = len(self._pending) if size is None or size < 0 else size
        chunk, self._pending = self._pending[:wanted], self._pending[wanted:]
        self.sent += len(chunk)
        return bytes(chunk)
