"""ObjectStore against the devstack S3 (moto server) and GCS (gcp-storage-emulator) over HTTP."""

import io

import pytest

from shared.config import load_settings
from shared.errors import ConfigError, ObjectStoreError
from shared.objectstore import ObjectStore


@pytest.fixture
def store(devstack_environ):
    settings = load_settings(devstack_environ)
    return ObjectStore(settings.s3, settings.gcs), settings


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_round_trip_list_and_delete(store, scheme):
    objects, settings = store
    bucket = settings.s3.bucket if scheme == "s3" else settings.gcs.bucket
    base = f"{scheme}://{bucket}/tests/objectstore/{scheme}/"
    objects.write_json(base + "a.json", {"value": "é\n''"})
    objects.write_bytes(base + "sub/b.bin", b"\x00\xffbinary")
    assert objects.read_json(base + "a.json") == {"value": "é\n''"}
    assert objects.exists(base + "sub/b.bin")
    assert not objects.exists(base + "sub/missing.bin")
    listed = sorted(info.url for info in objects.list(base))
    assert listed == [base + "a.json", base + "sub/b.bin"]
    assert objects.delete_prefix(base) == 2
    assert objects.list(base) == []


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_streaming_read_of_a_multi_chunk_object(store, scheme):
    objects, settings = store
    bucket = settings.s3.bucket if scheme == "s3" else settings.gcs.bucket
    url = f"{scheme}://{bucket}/tests/objectstore/stream-{scheme}.bin"
    payload = bytes(range(256)) * 12_000  # ~3 MB
    objects.write_bytes(url, payload)
    reader = objects.open_read(url)
    received = io.BytesIO()
    while chunk := reader.read(300_000):
        received.write(chunk)
    assert received.getvalue() == payload


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_missing_bucket_is_a_one_line_config_error(store, scheme):
    objects, _ = store
    with pytest.raises(ConfigError) as caught:
        objects.read_bytes(f"{scheme}://no-such-bucket-r2a/x.json")
    assert "bucket 'no-such-bucket-r2a' does not exist" in caught.value.one_line()


def test_missing_object_names_the_url(store):
    objects, settings = store
    url = f"gs://{settings.gcs.bucket}/tests/objectstore/never-written.json"
    with pytest.raises(ObjectStoreError, match="never-written.json does not exist"):
        objects.read_bytes(url)
