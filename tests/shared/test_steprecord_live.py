"""shared.steprecord in the devstack GCS emulator: the final record, and the "failed" one the boundary writes."""

import uuid

from shared.cli import StepContext
from shared.config import load_settings
from shared.steprecord import StepRecord


def test_finished_and_failed_records(devstack_environ):
    settings = load_settings(devstack_environ)
    run_id = f"steprecord_{uuid.uuid4().hex[:8]}"
    step = StepContext("rewrite_ddl", run_id, settings)
    record = StepRecord(step)
    record.finished("partial", counts={"applied": 3}, outputs=["gs://b/x"])
    written = record.store.read_json(record.layout.step_result("rewrite_ddl"))
    assert (written["run_id"], written["step"], written["status"]) == (run_id, "rewrite_ddl", "partial")
    assert written["counts"] == {"applied": 3} and written["outputs"] == ["gs://b/x"]
    assert written["duration_s"] >= 0 and written["started_at"] <= written["finished_at"]

    post_data = StepContext("load_schema", run_id, settings)
    named = StepRecord(post_data, "load_schema_post_data")
    assert len(post_data.on_failure) == 1
    post_data.on_failure[0](ValueError("boom"))  # what the error boundary does on a failure
    failed = named.store.read_json(named.layout.step_result("load_schema_post_data"))
    assert failed["status"] == "failed" and failed["step"] == "load_schema_post_data"
    assert "boom" in failed["error"]["message"]

