"""The step result file (`steps/<name>.json` in the run folder) of a step's run: written as "failed" by the error
boundary when anything goes wrong, or with the final status when the step ends. Every schema step's `__main__`
does the same, so it lives here once."""

from __future__ import annotations

import time
from typing import Any

from shared.cli import StepContext
from shared.objectstore import ObjectStore, RunLayout
from shared.results import ErrorInfo, StepResult, StepStatus, to_dict, utc_now


class StepRecord:
    """Opens the run folder and registers the "failed" record with the step's error boundary.

    `result_name` names the record when one step writes several (load_schema_pre_data, load_schema_post_data).
    """

    def __init__(self, step: StepContext, result_name: str | None = None):
        self.run_id = step.run_id
        self.name = result_name or step.name
        self.store = ObjectStore(step.settings.s3, step.settings.gcs)
        self.layout = RunLayout.from_settings(step.run_id, step.settings.gcs)
        self.started_at, self._started = utc_now(), time.monotonic()
        step.on_failure.append(lambda exc: self._write("failed", error=ErrorInfo.from_exception(exc)))

    def finished(self, status: StepStatus, **fields: Any) -> None:
        """Write the final record; `fields` are StepResult's phases, counts, outputs."""
        self._write(status, **fields)

    def _write(self, status: StepStatus, **fields: Any) -> None:
        record = StepResult(self.run_id, self.name, status, self.started_at, utc_now(),
                            round(time.monotonic() - self._started, 3), **fields)
        self.store.write_json(self.layout.step_result(self.name), to_dict(record))
