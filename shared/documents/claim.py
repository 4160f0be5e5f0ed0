"""claims/<table>/attempt-<NNN>: an attempt of one table's transfer, claimed before its UNLOAD starts
(steps/table_transfer/core.py). The next attempt's number is one more than any claimed, so a re-run never reuses the
S3 folder of a killed attempt whose UNLOAD may still be writing into it; that reader needs only the file names
(RunLayout.claim), the content says who claimed the attempt and when."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.documents._checks import format_version, text
from shared.documents.base import RunDocument
from shared.errors import BadInputError

FORMAT_VERSION = 1
SCHEMA = "claim"


@dataclass(frozen=True)
class Claim(RunDocument):
    run_id: str
    table: str  # Redshift name, "schema.table"
    attempt: int  # 1, 2, ...: the attempt folder's number
    claimed_at: str  # UTC, shared.results.utc_now's form
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, document: Any, url: str) -> Claim:
        version = format_version(document, url, FORMAT_VERSION)
        if not isinstance(document, dict):
            raise BadInputError(f"{url}: expected an object with table, attempt and claimed_at")
        attempt = document.get("attempt")
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise BadInputError(f"{url}: attempt must be a whole number from 1")
        return cls(str(document.get("run_id", "")), text(document.get("table"), f"{url}: table"), attempt,
                   text(document.get("claimed_at"), f"{url}: claimed_at"), version)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "run_id": self.run_id, "table": self.table,
                "attempt": self.attempt, "claimed_at": self.claimed_at}
