import json

import jsonschema
import pytest

from shared.errors import SourceError
from shared.results import (
    Attempt,
    ErrorInfo,
    PhaseClock,
    StepResult,
    TableResult,
    load_schema,
    step_result_from_dict,
    table_result_from_dict,
    to_dict,
    to_json,
    utc_now,
)

VALIDATOR = jsonschema.Draft202012Validator(load_schema())


def a_failed_table() -> TableResult:
    error = ErrorInfo.from_exception(SourceError("table public.gone not found", "It was dropped after dump_schema"))
    result = TableResult(run_id="db_20250101_000000", table="public.gone", target="public.gone", status="failed",
                         started_at=utc_now(), error=error)
    result.attempts.append(Attempt(number=1, started_at=utc_now(), finished_at=utc_now(), status="failed",
                                   error=error))
    return result


def test_table_result_round_trips_and_validates():
    result = a_failed_table()
    clock = PhaseClock(result.phases)
    with pytest.raises(RuntimeError), clock.phase("unload"):
        raise RuntimeError("boom")
    data = json.loads(to_json(result))
    VALIDATOR.validate(data)
    assert table_result_from_dict(data) == result
    assert data["phases"][0]["status"] == "failed"
    assert data["error"]["exit_code"] == 4


def test_step_result_round_trips_and_validates():
    step = StepResult(run_id="db_20250101_000000", step="dump_schema", status="succeeded", started_at=utc_now(),
                      finished_at=utc_now(), duration_s=1.0, counts={"tables": 3}, outputs=["gs://b/p/catalog.json"])
    data = to_dict(step)
    VALIDATOR.validate(data)
    assert step_result_from_dict(data) == step


def test_schema_rejects_a_succeeded_table_without_rows_or_with_an_error():
    data = to_dict(a_failed_table())
    data["status"] = "succeeded"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(data)
    data["error"], data["rows_loaded"] = None, None
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(data)
    data["rows_loaded"] = 10
    VALIDATOR.validate(data)


def test_unknown_fields_are_rejected():
    data = to_dict(a_failed_table())
    data["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(data)
