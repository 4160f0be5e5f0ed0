"""An UNLOAD manifest is read from the attempt's own S3 prefix (devstack's moto S3): every part it lists must lie
directly under that prefix, so whoever can write the prefix cannot point r2a's keys at another object."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.config import load_settings
from shared.errors import BadInputError
from shared.identifiers import TableRef
from shared.objectstore import ObjectStore, RunLayout
from steps.table_transfer.unload import read_manifest


@pytest.fixture
def attempt(devstack_environ):
    settings = load_settings(devstack_environ)
    store = ObjectStore(settings.s3, settings.gcs)
    layout = RunLayout.from_settings(f"mf_{uuid.uuid4().hex[:10]}", settings.gcs, settings.s3)
    prefix = layout.unload_prefix(TableRef("s", "t"), 2)
    yield store, prefix
    store.delete_prefix(prefix)


def _write(store: ObjectStore, prefix: str, urls: list) -> None:
    entries = [{"url": url, "meta": {"content_length": 10, "record_count": 1}} for url in urls]
    store.write_bytes(prefix + "manifest", json.dumps({"entries": entries}).encode(), "application/json")


def test_parts_under_the_attempt_prefix_are_read(attempt):
    store, prefix = attempt
    _write(store, prefix, [prefix + "0000_part_00.zst", prefix + "0001_part_00.zst"])
    manifest = read_manifest(store, prefix)
    assert [p.url for p in manifest.parts] == [prefix + "0000_part_00.zst", prefix + "0001_part_00.zst"]
    assert manifest.record_count == 2


@pytest.mark.parametrize("where", [
    "OTHER_ATTEMPT",  # an earlier attempt's part of the same table
    "OTHER_TABLE",
    "SUBFOLDER",
    "s3://another-bucket/secret.csv",
    None,
])
def test_a_part_outside_the_attempt_prefix_is_refused(attempt, where):
    store, prefix = attempt
    url = {"OTHER_ATTEMPT": prefix.replace("attempt-002", "attempt-001") + "0000_part_00",
           "OTHER_TABLE": prefix.replace("/s.t/", "/s.u/") + "0000_part_00",
           "SUBFOLDER": prefix + "x/0000_part_00"}.get(where, where)
    _write(store, prefix, [prefix + "0000_part_00", url])
    with pytest.raises(BadInputError, match=r"entries\[1\]\.url .* is not a part of this attempt"):
        read_manifest(store, prefix)
