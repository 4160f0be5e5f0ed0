from datetime import UTC, datetime

import pytest

from shared.config import load_settings
from shared.errors import BadInputError, ConfigError
from shared.identifiers import TableRef
from shared.objectstore import RunLayout, new_run_id, split_url


def test_run_id_format():
    assert new_run_id("dev", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)) == "dev_20250304_050607"
    assert new_run_id("my db/x", datetime(2025, 3, 4, tzinfo=UTC)) == "my_db_x_20250304_000000"


def test_layout_paths():
    layout = RunLayout("dev_20250304_050607", gcs_bucket="art", gcs_prefix="r2a", s3_bucket="unl", s3_prefix="p")
    ref = TableRef("public", "Sales Q1")
    assert layout.catalog_json == "gs://art/r2a/dev_20250304_050607/catalog.json"
    assert layout.result(ref) == "gs://art/r2a/dev_20250304_050607/results/public.Sales%20Q1.json"
    assert layout.unload_prefix(ref, 2) == "s3://unl/p/dev_20250304_050607/public.Sales%20Q1/attempt-002/"
    assert layout.report("dev_20250304_050607.tables").endswith("/report/dev_20250304_050607.tables")


@pytest.mark.parametrize("run_id", ["", "../etc", "a/b", "x" * 101])
def test_bad_run_ids_are_refused(run_id):
    with pytest.raises(BadInputError):
        RunLayout(run_id, gcs_bucket="b")


def test_layout_from_settings_requires_a_bucket():
    with pytest.raises(ConfigError, match="R2A_GCS_BUCKET"):
        RunLayout.from_settings("dev_20250101_000000", load_settings({}).gcs)


def test_split_url():
    assert split_url("gs://b/k/x.json") == ("gs", "b", "k/x.json")
    with pytest.raises(BadInputError):
        split_url("/local/path")
