"""shared/gcs.py against the GCS emulator over HTTP: one streaming GET resumed where a connection breaks, one
streaming PUT, and both checked by CRC32C. Faults come from devstack's fault proxy and from flipping a byte of the
emulator's stored file (what a bad disk would do)."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

import pytest

from devstack.faultproxy import Fault, FaultProxy
from shared.config import load_settings
from shared.errors import ObjectStoreError
from shared.gcs import open_object, upload_stream
from shared.objectstore import ObjectStore
from shared.retry import is_transient

PAYLOAD = bytes(range(256)) * 12_000  # ~3 MB, every byte value


@pytest.fixture
def gcs(devstack_environ):
    settings = load_settings(devstack_environ)
    return settings.gcs, ObjectStore(None, settings.gcs)


@contextmanager
def _proxied(settings, fault: Fault) -> Iterator[tuple[FaultProxy, object]]:
    """devstack's fault proxy in front of the GCS emulator, injecting `fault`: (the proxy, settings through it)."""
    emulator = urlparse(settings.emulator_host)
    with FaultProxy(emulator.hostname, emulator.port) as proxy:
        proxy.set_fault(fault)
        host, port = proxy.address
        yield proxy, replace(settings, emulator_host=f"http://{host}:{port}")


def _emulator_file(devstack, bucket: str, key: str) -> Path:
    return Path(devstack["state_dir"]) / "gcs" / ".cloudstorage" / bucket / key


def test_read_cut_mid_body_resumes_where_it_broke_and_returns_every_byte(gcs, devstack, caplog):
    settings, store = gcs
    key = f"tests/gcs/{uuid.uuid4().hex}/resumed.bin"
    store.write_bytes(f"gs://{settings.bucket}/{key}", PAYLOAD)
    with _proxied(settings, Fault.reset_after(1_000_000, count=1)) as (proxy, through), \
            caplog.at_level("WARNING", logger="r2a"), open_object(through, settings.bucket, key) as reader:
        received = reader.read()
        cuts = proxy.stats.injected
    assert cuts == 1
    assert received == PAYLOAD
    resumed = [r for r in caplog.records if r.getMessage() == "resuming read"]
    assert len(resumed) == 1 and 0 < resumed[0].fields["offset"] < len(PAYLOAD)


def test_read_of_bytes_that_do_not_match_the_objects_crc32c_fails_transient(gcs, devstack):
    settings, store = gcs
    key = f"tests/gcs/{uuid.uuid4().hex}/rotten.bin"
    store.write_bytes(f"gs://{settings.bucket}/{key}", PAYLOAD)
    stored = _emulator_file(devstack, settings.bucket, key)
    data = bytearray(stored.read_bytes())
    assert bytes(data) == PAYLOAD, "the emulator no longer keeps objects as plain files"
    data[1_500_000] ^= 0x01
    stored.write_bytes(bytes(data))
    with open_object(settings, settings.bucket, key) as reader, pytest.raises(ObjectStoreError) as caught:
        reader.read()
    assert "CRC32C" in caught.value.one_line() and key in caught.value.one_line()
    assert caught.value.transient


def test_missing_object_fails_at_open_in_one_line(gcs):
    settings, store = gcs
    with pytest.raises(ObjectStoreError, match="never-written.bin does not exist"):
        store.open_read(f"gs://{settings.bucket}/tests/gcs/never-written.bin")


def test_upload_stream_stores_every_byte_in_one_put(gcs):
    settings, store = gcs
    key = f"tests/gcs/{uuid.uuid4().hex}/uploaded.bin"
    source = io.BytesIO(PAYLOAD)
    assert upload_stream(settings, settings.bucket, key, source, len(PAYLOAD)) == len(PAYLOAD)
    assert store.read_bytes(f"gs://{settings.bucket}/{key}") == PAYLOAD


def test_upload_of_a_source_shorter_than_announced_fails_at_once_and_leaves_no_object(gcs):
    settings, store = gcs
    key = f"tests/gcs/{uuid.uuid4().hex}/short.bin"
    started = time.monotonic()
    with pytest.raises(ObjectStoreError, match="ended after 2000000 of 3072000 bytes") as caught:
        upload_stream(settings, settings.bucket, key, io.BytesIO(PAYLOAD[:2_000_000]), len(PAYLOAD))
    assert caught.value.transient
    assert time.monotonic() - started < 20, "waited for the missing bytes instead of stopping"
    assert not store.exists(f"gs://{settings.bucket}/{key}")


def test_upload_cut_mid_body_is_never_finalized(gcs):
    settings, store = gcs
    key = f"tests/gcs/{uuid.uuid4().hex}/cut-upload.bin"
    with _proxied(settings, Fault.reset_after(500_000, upstream=True)) as (proxy, through):
        with pytest.raises(Exception) as caught:
            upload_stream(through, settings.bucket, key, io.BytesIO(PAYLOAD), len(PAYLOAD))
        assert proxy.stats.injected >= 1
    assert is_transient(caught.value), repr(caught.value)
    assert not store.exists(f"gs://{settings.bucket}/{key}")


def test_empty_object_uploads_and_reads_back_empty(gcs):
    settings, store = gcs
    key = f"tests/gcs/{uuid.uuid4().hex}/empty.bin"
    assert upload_stream(settings, settings.bucket, key, io.BytesIO(b""), 0) == 0
    assert store.exists(f"gs://{settings.bucket}/{key}")
    with open_object(settings, settings.bucket, key) as reader:
        assert reader.read() == b""


def test_read_answered_503_at_first_is_retried_until_it_starts(gcs):
    settings, store = gcs
    key = f"tests/gcs/{uuid.uuid4().hex}/busy.bin"
    store.write_bytes(f"gs://{settings.bucket}/{key}", PAYLOAD)
    with _proxied(settings, Fault.http_status(503, count=2)) as (proxy, through):
        with open_object(through, settings.bucket, key) as reader:
            received = reader.read()
        answered_503 = proxy.stats.injected
    assert answered_503 == 2
    assert received == PAYLOAD
