"""Result records every step writes, in one schema (shared/schemas/result.schema.json).

`TableResult` is one table's outcome (`results/<schema>.<table>.json`); `StepResult` is one step's outcome
(`steps/<step>.json`). The report reads only these files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from shared import stepnames
from shared.errors import ExitCode, R2AError, Stopped, exit_code_for
from shared.log import one_line, redact_value

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("schemas") / "result.schema.json"

TableStatus = Literal["succeeded", "failed", "skipped"]
StepStatus = Literal["succeeded", "failed", "partial"]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ErrorInfo:
    error_class: str
    message: str
    exit_code: int
    transient: bool

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        if isinstance(exc, R2AError):
            return cls(exc.error_class, exc.one_line(), int(exit_code_for(exc)), exc.transient)
        if isinstance(exc, Stopped):
            return cls("Stopped", str(exc), int(ExitCode.FAILED), True)
        return cls(type(exc).__name__, one_line(exc, 500) or type(exc).__name__, 70, False)


@dataclass
class PhaseTiming:
    name: str
    started_at: str
    finished_at: str | None = None
    duration_s: float | None = None
    status: Literal["succeeded", "failed", "skipped"] = "succeeded"


@dataclass
class Attempt:
    number: int
    started_at: str
    finished_at: str | None = None
    status: Literal["succeeded", "failed"] | None = None
    error: ErrorInfo | None = None
    retries: int = 0  # transient failures retried with backoff inside this attempt
    unload_attempt: int | None = None  # the attempt whose UNLOAD this one loaded (its own, or an earlier one resumed)
    parts_loaded: list[str] = field(default_factory=list)  # part files this attempt committed
    parts_reused: list[str] = field(default_factory=list)  # part files an earlier attempt had committed
    switch: str | None = None  # how the loaded rows became the target's: "none" (loaded into it) or the switch


@dataclass
class TableResult:
    run_id: str
    table: str  # Redshift name, "schema.table"
    target: str  # AlloyDB name, "schema.table"
    status: TableStatus
    started_at: str
    finished_at: str | None = None
    duration_s: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    phases: list[PhaseTiming] = field(default_factory=list)
    rows_source: int | None = None
    rows_unloaded: int | None = None
    rows_loaded: int | None = None
    bytes_compressed: int | None = None
    bytes_raw: int | None = None
    parts: int | None = None
    checksum_match: bool | None = None
    error: ErrorInfo | None = None
    step: str = stepnames.TABLE_TRANSFER
    # the source's count after the load, in a transaction of its own: differs from rows_source (the UNLOAD's
    # snapshot, which was verified) when other sessions changed the table during the run
    rows_source_after: int | None = None
    schema_version: int = SCHEMA_VERSION
    # an incremental sync's (steps/table_transfer/sync_load.py): its mode, the watermark it started from (None: the
    # whole table was read) and the one it committed, and how the window changed the target's rows
    sync_mode: str | None = None
    watermark_from: str | None = None
    watermark_to: str | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    synced_before: str | None = None  # when the table's previous sync committed (its lag at the run's start)
    # a run with a sync config: why this table is loaded in full (the config's note, e.g. `r2a sync-config init`'s
    # "stays full: no identity or timestamp column to use as a cursor"; else that the config does not name it)
    sync_note: str | None = None


@dataclass
class StepResult:
    run_id: str
    step: str
    status: StepStatus
    started_at: str
    finished_at: str | None = None
    duration_s: float | None = None
    phases: list[PhaseTiming] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    error: ErrorInfo | None = None
    schema_version: int = SCHEMA_VERSION


def to_dict(record: TableResult | StepResult) -> dict[str, Any]:
    return asdict(record)


def to_json(record: TableResult | StepResult) -> str:
    return json.dumps(redact_value(to_dict(record)), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _error(data: dict | None) -> ErrorInfo | None:
    return ErrorInfo(**data) if data else None


def table_result_from_dict(data: dict[str, Any]) -> TableResult:
    data = dict(data)
    data["attempts"] = [Attempt(**{**a, "error": _error(a.get("error"))}) for a in data.get("attempts", [])]
    data["phases"] = [PhaseTiming(**p) for p in data.get("phases", [])]
    data["error"] = _error(data.get("error"))
    return TableResult(**data)


def step_result_from_dict(data: dict[str, Any]) -> StepResult:
    data = dict(data)
    data["phases"] = [PhaseTiming(**p) for p in data.get("phases", [])]
    data["error"] = _error(data.get("error"))
    return StepResult(**data)


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


class PhaseClock:
    """Times named phases into a list of PhaseTiming: `with clock.phase("unload"): ...`."""

    def __init__(self, phases: list[PhaseTiming]):
        self.phases = phases

    @contextmanager
    def phase(self, name: str) -> Iterator[PhaseTiming]:
        timing = PhaseTiming(name=name, started_at=utc_now())
        self.phases.append(timing)
        start = time.monotonic()
        try:
            yield timing
        except BaseException:
            timing.status = "failed"
            raise
        finally:
            timing.finished_at = utc_now()
            timing.duration_s = round(time.monotonic() - start, 3)
