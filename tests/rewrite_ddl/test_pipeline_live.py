"""The contract with the next step: rewrite_ddl's files for the real-world corpora go through
validate_restore (both as processes, run folder in the GCS emulator) with every object applied."""

from __future__ import annotations

from tests.rewrite_ddl.ddl_corpus import corpus_catalog
from tests.support.steps import run_step


def test_corpora_pass_validate_restore(run_folder):
    run_id, store, layout, environ = run_folder
    store.write_json(layout.catalog_json, corpus_catalog(run_id))
    done = run_step("steps.rewrite_ddl", ["--run-id", run_id, "--sortkey-indexes"], environ)
    assert done.returncode == 0, done.stderr
    done = run_step("steps.validate_restore", ["--run-id", run_id], environ, timeout=300)
    assert done.returncode == 0, done.stderr
    report = store.read_json(layout.validation_report_json)
    rewrite_report = store.read_json(layout.rewrite_report_json)
    assert report["counts"] == {"applied": len(rewrite_report["objects"]), "failed": 0, "skipped": 0}
