"""`python -m steps.rewrite_ddl` as a process against the devstack GCS emulator: outputs written, bad input
refused in one line with exit code 3 and nothing written."""

from __future__ import annotations

import json

from shared.errors import ExitCode
from shared.sqlblocks import parse
from tests.rewrite_ddl.sample import sample_catalog
from tests.support.steps import one_error_line, run_step

STEP = "steps.rewrite_ddl"
OUTPUTS = ("pre_data_sql", "post_data_sql", "views_sql", "compat_sql", "name_map_json", "rewrite_report_json")


def test_rewrite_writes_every_output_and_a_step_result(run_folder, tmp_path):
    run_id, store, layout, environ = run_folder
    store.write_json(layout.catalog_json, sample_catalog(run_id))
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("exclude: [sales.v_broken]\n")
    done = run_step(STEP, ["--run-id", run_id, "--overrides", str(overrides), "--sortkey-indexes", "--grants"],
                    environ)
    assert done.returncode == 0, done.stderr
    for attribute in OUTPUTS:
        assert store.exists(getattr(layout, attribute)), attribute
    report = store.read_json(layout.rewrite_report_json)
    assert report["run_id"] == run_id and report["step"] == "rewrite_ddl"
    broken = next(o for o in report["objects"] if o["name"] == "sales.v_broken")
    assert broken["status"] == "skipped"
    assert any(o.kind == "index" for o in parse(store.read_text(layout.post_data_sql)))
    step = store.read_json(layout.step_result("rewrite_ddl"))
    assert step["status"] == "succeeded" and step["counts"] == report["counts"]
    name_map = store.read_json(layout.name_map_json)
    assert name_map["run_id"] == run_id and name_map["tables"]


def test_invalid_catalog_is_one_line_and_exit_3(run_folder):
    run_id, store, layout, environ = run_folder
    data = sample_catalog(run_id)
    del data["tables"][0]["columns"]
    store.write_json(layout.catalog_json, data)
    done = run_step(STEP, ["--run-id", run_id], environ)
    assert done.returncode == ExitCode.BAD_INPUT
    line = one_error_line(done, "rewrite_ddl")
    assert "catalog.json is not a valid catalog: at .tables[0]" in line
    assert not store.exists(layout.pre_data_sql)
    assert store.read_json(layout.step_result("rewrite_ddl"))["status"] == "failed"


def test_catalog_that_is_not_json(run_folder):
    run_id, store, layout, environ = run_folder
    store.write_text(layout.catalog_json, "{not json")
    done = run_step(STEP, ["--run-id", run_id], environ)
    assert done.returncode == ExitCode.BAD_INPUT
    assert "is not valid JSON" in one_error_line(done, "rewrite_ddl")


def test_missing_catalog_says_to_run_dump_schema(run_folder):
    run_id, _, _, environ = run_folder
    done = run_step(STEP, ["--run-id", run_id], environ)
    assert done.returncode == ExitCode.BAD_INPUT
    assert "Run dump_schema for this run id first" in one_error_line(done, "rewrite_ddl")


def test_unknown_overrides_key(run_folder, tmp_path):
    run_id, store, layout, environ = run_folder
    store.write_json(layout.catalog_json, sample_catalog(run_id))
    overrides = tmp_path / "o.yaml"
    overrides.write_text("exclude: []\nrenames: {a: b}\n")
    done = run_step(STEP, ["--run-id", run_id, "--overrides", str(overrides)], environ)
    assert done.returncode == ExitCode.BAD_INPUT
    line = one_error_line(done, "rewrite_ddl")
    assert "unknown key 'renames'" in line and str(overrides) in line
    assert not store.exists(layout.pre_data_sql)


def test_overrides_from_the_bucket(run_folder):
    run_id, store, layout, environ = run_folder
    store.write_json(layout.catalog_json, sample_catalog(run_id))
    url = f"{layout.root}overrides.yaml"  # any gs:// URL: one no step uses, removed with the run folder
    store.write_text(url, "rename_schemas: {sales: shop}\n")
    done = run_step(STEP, ["--run-id", run_id, "--overrides", url], environ)
    assert done.returncode == 0, done.stderr
    assert json.loads(store.read_text(layout.name_map_json))["schemas"]["sales"] == "shop"
