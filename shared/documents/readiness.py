"""report/readiness.json: the cut-over verdict of a run (shared/readiness.py judges it): each judged table in sync
(✓) or not with the reason, post-data's state, the objects not migrated (from summary.json) and whether the run is
ready. The report step (`--readiness`) and `r2a readiness` / `r2a cutover` write it; `r2a cutover` reads the one its
run's report step wrote."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from shared.documents._checks import entries, flag, format_version, optional_text, tally, text, whole
from shared.documents.base import RunDocument
from shared.errors import BadInputError

FORMAT_VERSION = 1
SCHEMA = "readiness"


@dataclass(frozen=True)
class TableReadiness:
    table: str
    in_sync: bool
    reason: str  # why not in sync; empty when it is
    mode: str  # full, append, upsert; empty when the table has no result
    watermark: str | None
    lag_at_start_s: float | None

    @classmethod
    def from_json(cls, value: Any, where: str) -> TableReadiness:
        if not isinstance(value, dict):
            raise BadInputError(f"{where} must be an object")
        reason, mode, lag = value.get("reason"), value.get("mode"), value.get("lag_at_start_s")
        if not isinstance(reason, str) or not isinstance(mode, str):
            raise BadInputError(f"{where}: reason and mode must be strings")
        if lag is not None and (isinstance(lag, bool) or not isinstance(lag, int | float)):
            raise BadInputError(f"{where}.lag_at_start_s must be a number of seconds or null")
        return cls(text(value.get("table"), f"{where}.table"), flag(value.get("in_sync"), f"{where}.in_sync"), reason,
                   mode, optional_text(value.get("watermark"), f"{where}.watermark"),
                   lag)


@dataclass(frozen=True)
class PostDataState:
    status: str  # the post-data step record's status; not_run without one
    error: str  # its error message; empty without one


@dataclass(frozen=True)
class NotMigratedCount:
    total: int | None = None  # None: no summary.json to count them from
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Readiness(RunDocument):
    run_id: str
    ready: bool
    tables: tuple[TableReadiness, ...]  # plan order
    post_data: PostDataState
    objects_not_migrated: NotMigratedCount
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, document: Any, url: str) -> Readiness:
        version = format_version(document, url, FORMAT_VERSION)
        if not isinstance(document, dict):
            raise BadInputError(f"{url}: expected an object")
        post, missing = document.get("post_data"), document.get("objects_not_migrated")
        if not isinstance(post, dict) or not isinstance(post.get("error"), str):
            raise BadInputError(f"{url}: post_data must be an object with status and error")
        if not isinstance(missing, dict):
            raise BadInputError(f"{url}: objects_not_migrated must be an object")
        total = missing.get("total")
        return cls(
            text(document.get("run_id"), f"{url}: run_id"), flag(document.get("ready"), f"{url}: ready"),
            entries(document, "tables", url, TableReadiness.from_json),
            PostDataState(text(post.get("status"), f"{url}: post_data.status"), post["error"]),
            NotMigratedCount(None if total is None else whole(total, f"{url}: objects_not_migrated.total"),
                             tally(missing.get("by_kind", {}), f"{url}: objects_not_migrated.by_kind")),
            version)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "run_id": self.run_id, "ready": self.ready,
                "tables": [asdict(t) for t in self.tables], "post_data": asdict(self.post_data),
                "objects_not_migrated": asdict(self.objects_not_migrated)}
