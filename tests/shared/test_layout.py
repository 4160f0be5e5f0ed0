import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.config import load_settings
from shared.errors import BadInputError, ConfigError
from shared.identifiers import TableRef
from shared.layout import SECTIONS
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


# Call sites that still name a run-folder file themselves, in modules other branches are changing now: each is to
# move onto a RunLayout accessor (validated_sql, pre_data_progress_json, batches_prefix, steps_prefix,
# claims_prefix, ...). A count may only go down; any other module must have none.
NOT_YET_ON_LAYOUT = {"benchmarks/report_bench.py": 1, "shared/finishing.py": 1, "steps/load_schema/core.py": 3,
                     "steps/report/core.py": 1, "steps/table_transfer/core.py": 1}


def test_only_run_layout_names_run_folder_files():
    root = Path(__file__).resolve().parents[2]
    counts = {}
    for folder in ("shared", "steps", "workflows", "benchmarks"):
        for path in (root / folder).rglob("*.py"):
            found = path.read_text().count(".artifact(")
            name = str(path.relative_to(root))
            if found and name != "shared/layout.py":
                counts[name] = found
    assert {name: n for name, n in counts.items() if n > NOT_YET_ON_LAYOUT.get(name, 0)} == {}


def test_section_accessors():
    layout = RunLayout("dev_20250304_050607", gcs_bucket="art")
    assert layout.validated_sql("pre-data") == layout.root + "validated_pre_data.sql"
    assert layout.schema_alloydb_section_sql("post-data") == layout.root + "schema_alloydb_post_data.sql"
    assert layout.schema_alloydb_section_sql(None) == layout.schema_alloydb_sql
    assert layout.claims_prefix(TableRef("s", "t")) == layout.root + "claims/s.t/"
    with pytest.raises(ValueError, match="section"):
        layout.validated_sql("all")


def _run_folder_names() -> set[str]:
    """Every file and folder name RunLayout gives out, relative to the run root."""
    layout = RunLayout("dev_20250304_050607", gcs_bucket="art", s3_bucket="unl")
    ref = TableRef("s", "t")
    urls = [getattr(layout, name) for name, value in vars(RunLayout).items() if isinstance(value, property)]
    urls += [layout.validated_sql(s) for s in SECTIONS] + [layout.schema_alloydb_section_sql(s) for s in SECTIONS]
    urls += [layout.claims_prefix(ref), layout.staging_table_prefix(ref)]
    names = {url.removeprefix(layout.root) for url in urls if url.startswith(layout.root) and url != layout.root}
    return {name.split("/")[0] + "/" if "/" in name else name for name in names}


# Modules that still spell a run-folder file name as a literal (issue 22); each is to use the RunLayout accessor
# instead. A count may only go down; any other module must have none.
NOT_YET_NAMED_BY_LAYOUT = {"benchmarks/report_bench.py": 2, "shared/finishing.py": 1, "steps/load_schema/core.py": 3,
                           "steps/load_schema/predata.py": 1, "steps/plan/core.py": 1, "steps/report/collect.py": 4,
                           "steps/report/core.py": 2, "shared/documents/catalog.py": 1,
                           "steps/rewrite_ddl/core.py": 12, "workflows/demo.py": 2}


def test_only_run_layout_spells_run_folder_file_names():
    root = Path(__file__).resolve().parents[2]
    names = _run_folder_names()
    assert {"tables.json", "catalog.json", "validated_pre_data.sql", "results/", "claims/"} <= names
    literal = re.compile("([\"'])(?:" + "|".join(re.escape(name) for name in sorted(names)) + ")\\1")
    counts = {}
    for folder in ("shared", "steps", "workflows", "benchmarks"):
        for path in (root / folder).rglob("*.py"):
            found = len(literal.findall(path.read_text()))
            name = str(path.relative_to(root))
            if found and name != "shared/layout.py":
                counts[name] = found
    assert {name: n for name, n in counts.items() if n > NOT_YET_NAMED_BY_LAYOUT.get(name, 0)} == {}
