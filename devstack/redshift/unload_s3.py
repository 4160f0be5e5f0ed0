"""S3 side of UNLOAD: client, Redshift-style S3 errors, destination checks and streaming file writers.

Files are written with bounded memory: compressed bytes are buffered up to PART_SIZE and then sent as a
multipart-upload part; a file smaller than one part is sent with a single PutObject.
"""

from __future__ import annotations

import bisect
import bz2
import zlib
from collections.abc import Iterator, Sequence

import boto3
import boto3.session
import botocore.config
import botocore.exceptions
import zstandard

from devstack.redshift.unload_errors import INTERNAL, UnloadError

PART_SIZE = 8 * 1024 * 1024          # S3 needs >= 5 MiB for every part but the last
_COMPRESS_CHUNK = 256 * 1024         # uncompressed bytes handed to the compressor at once
CHUNK_BYTES = _COMPRESS_CHUNK


def make_client(endpoint_url: str, region: str, access_key_id: str, secret_access_key: str,
                session_token: str | None):
    config = botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"},
                                    connect_timeout=10, read_timeout=120)
    # a session per UNLOAD: boto3's default session is not safe to share between the emulator's session threads
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key_id,
                          aws_secret_access_key=secret_access_key, aws_session_token=session_token, config=config)


def s3_error(exc: Exception) -> UnloadError:
    """Redshift reports S3 failures as 'S3ServiceException:<message>,Status <n>,Error <code>,Rid ..,ExtRid ..'."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        code = error.get("Code", "Unknown")
        message = error.get("Message") or _DEFAULT_MESSAGES.get(code, code)
        return UnloadError(INTERNAL, f"S3ServiceException:{message},Status {meta.get('HTTPStatusCode', 0)},"
                                     f"Error {code},Rid {meta.get('RequestId', '')},"
                                     f"ExtRid {meta.get('HostId', '')},CanRetry 1")
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return UnloadError(INTERNAL, "S3CurlException:Couldn't connect to server,CurlError 7,CanRetry 1")
    return UnloadError(INTERNAL, f"S3ServiceException:{type(exc).__name__},CanRetry 1")


_DEFAULT_MESSAGES = {"NoSuchBucket": "The specified bucket does not exist", "403": "Access Denied",
                     "404": "Not Found", "301": "Moved Permanently"}


def bucket_region(client, bucket: str) -> str:
    try:
        location = client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except botocore.exceptions.BotoCoreError as exc:
        raise s3_error(exc) from None
    except botocore.exceptions.ClientError as exc:
        raise s3_error(exc) from None
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else location


def wrong_region_error(bucket: str, bucket_location: str) -> UnloadError:
    return UnloadError(INTERNAL, "S3ServiceException:The bucket you are attempting to access must be addressed using "
                                 f"the specified endpoint. Please send all future requests to this endpoint "
                                 f"({bucket}.s3.{bucket_location}.amazonaws.com); use REGION '{bucket_location}'."
                                 ",Status 301,Error PermanentRedirect,CanRetry 1")


def existing_keys(client, bucket: str, prefix: str) -> Iterator[str]:
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise s3_error(exc) from None


def delete_keys(client, bucket: str, keys: list[str]) -> None:
    try:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start:start + 1000]]
            client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise s3_error(exc) from None


class S3ObjectWriter:
    """Bytes in, one S3 object out; keeps at most about PART_SIZE bytes in memory."""

    def __init__(self, client, bucket: str, key: str):
        self.client = client
        self.bucket = bucket
        self.key = key
        self.content_length = 0
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict] = []

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.content_length += len(data)
        if len(self._buffer) >= PART_SIZE:
            self._send_part()

    def _send_part(self) -> None:
        try:
            if self._upload_id is None:
                self._upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
            number = len(self._parts) + 1
            answer = self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                             PartNumber=number, Body=bytes(self._buffer))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise s3_error(exc) from None
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self._buffer = bytearray()

    def close(self) -> None:
        try:
            if self._upload_id is None:
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer))
            else:
                if self._buffer:
                    self._send_part()
                self.client.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                                      MultipartUpload={"Parts": self._parts})
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise s3_error(exc) from None
        self._buffer = bytearray()

    def abort(self) -> None:
        """Drop an unfinished multipart upload so no partial object appears; errors here change nothing."""
        self._buffer = bytearray()
        if self._upload_id is not None:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
                pass
            self._upload_id = None


class _Identity:
    def compress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _Zstd:
    def __init__(self):
        self._compressor = zstandard.ZstdCompressor(level=3).compressobj()

    def compress(self, data: bytes) -> bytes:
        return self._compressor.compress(data)

    def flush(self) -> bytes:
        return self._compressor.flush()


# Input a compressor may hold without having emitted it yet (zlib's window, zstd's block, bzip2's block).
_HELD_BACK = {"GZIP": 64 * 1024, "ZSTD": 256 * 1024, "BZIP2": 900 * 1000}


def _compressor(compression: str | None):
    if compression == "GZIP":
        # wbits 31 = gzip container; zlib writes mtime 0, so identical input gives identical files
        return zlib.compressobj(6, zlib.DEFLATED, 31)
    if compression == "BZIP2":
        return bz2.BZ2Compressor(9)
    if compression == "ZSTD":
        return _Zstd()
    return _Identity()


class DataFile:
    """One UNLOAD output file: text lines in, compressed bytes streamed to S3; counts rows and size."""

    def __init__(self, client, bucket: str, key: str, compression: str | None):
        self.url = f"s3://{bucket}/{key}"
        self.records = 0
        self._object = S3ObjectWriter(client, bucket, key)
        self._compressor = _compressor(compression)
        self._compressed = compression is not None
        self._held_back = _HELD_BACK.get(compression or "", 0)
        self._pending = bytearray()
        self._consumed = 0
        self.uncompressed_bytes = 0

    def write_line(self, line: bytes) -> None:
        self._pending += line
        self.uncompressed_bytes += len(line)
        self.records += 1
        if len(self._pending) >= _COMPRESS_CHUNK:
            self._drain()

    def write_lines(self, data: bytes | memoryview, ends: Sequence[int], first: int, last: int, start: int) -> None:
        """write_line of lines first..last-1 of a block, at once: line i is data[ends[i-1]:ends[i]] (ends are
        offsets in data; line `first` starts at `start`). The compressor gets exactly the chunks write_line
        would hand it, so the bytes and every estimated_size() between lines stay the same."""
        if last <= first:
            return
        self.records += last - first
        self.uncompressed_bytes += ends[last - 1] - start
        while first < last:
            # the first line after which the pending bytes reach a chunk: write_line drains there
            cut = bisect.bisect_left(ends, start + _COMPRESS_CHUNK - len(self._pending), first, last)
            if cut == last:
                self._pending += data[start:ends[last - 1]]
                return
            self._pending += data[start:ends[cut]]
            self._drain()
            first, start = cut + 1, ends[cut]

    def rollover_free_bytes(self, limit: int) -> int:
        """Bytes of whole lines that can surely be added, up to and including the line that fills the pending
        chunk, without any of them meeting the rollover test `uncompressed_bytes + len(line) > limit and
        estimated_size() + len(line) > limit` (both must hold for a rollover; the estimate is checked with
        a margin, as it moves only when a chunk is drained)."""
        by_size = limit - self.uncompressed_bytes
        if not self._compressed:
            return by_size
        written = self._object.content_length
        ratio = max(written / self._consumed if written else 1.0, 1.0)
        by_estimate = int((limit - written) / ratio) - len(self._pending) - self._held_back - 2
        return max(by_size, by_estimate)

    def _drain(self) -> None:
        self._consumed += len(self._pending)
        self._object.write(self._compressor.compress(bytes(self._pending)))
        self._pending = bytearray()

    @property
    def content_length(self) -> int:
        return self._object.content_length

    @property
    def pending_bytes(self) -> int:
        """Bytes not yet handed to the compressor; a chunk is drained when a line brings them to CHUNK_BYTES."""
        return len(self._pending)

    def estimated_size(self) -> int:
        """Bytes the object would have if closed now: exact without compression, else a slight overestimate."""
        if not self._compressed:
            return self._object.content_length + len(self._pending)
        ratio = self._object.content_length / self._consumed if self._object.content_length else 1.0
        return self._object.content_length + int((len(self._pending) + self._held_back) * ratio)

    def close(self) -> int:
        self._drain()
        self._object.write(self._compressor.flush())
        self._object.close()
        return self._object.content_length

    def abort(self) -> None:
        self._object.abort()
