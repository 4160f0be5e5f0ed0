"""A step's progress as Argo shows it: `N/M` in the file named by ARGO_PROGRESS_FILE.

Argo's executor reads that file while the pod runs and puts its value on the node; the UI shows it per node and the
workflow's progress is the sum over its leaf nodes ("Self reporting progress",
https://argo-workflows.readthedocs.io/en/latest/progress/). The controller sets ARGO_PROGRESS_FILE only when
progress reporting is on (argo-workflows PR #13743); without it nothing is written. A pod should end on `M/M`.
The file is replaced whole (write beside it, then rename) so the reader never sees half a value, and a failed
write never fails the step: progress is for the operator, not part of the result.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.log import event, one_line

ENV = "ARGO_PROGRESS_FILE"
_PATTERN = re.compile(r"\s*(\d+)/(\d+)\s*")


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    def __str__(self) -> str:
        return f"{self.done}/{self.total}"


def report(done: int, total: int, environ: Mapping[str, str] = os.environ) -> None:
    """Write `done/total` to $ARGO_PROGRESS_FILE (nothing when it is not set)."""
    path = environ.get(ENV)
    if not path:
        return
    temporary = f"{path}.tmp"
    try:
        with open(temporary, "w") as handle:
            handle.write(f"{done}/{total}\n")  # Argo's parser is happier with the newline (dbt-core issue #10032)
        os.replace(temporary, path)
    except OSError as exc:
        event("progress.unwritable", path=path, error=one_line(exc, 160))


def parse(text: str) -> Progress | None:
    """`N/M` with 0 <= N <= M, as Argo accepts it; anything else is None."""
    match = _PATTERN.fullmatch(text)
    if match is None:
        return None
    done, total = int(match.group(1)), int(match.group(2))
    return Progress(done, total) if done <= total else None


def read(path: Path) -> Progress | None:
    """The progress a pod last wrote, None when it wrote none (yet) or not in Argo's format."""
    try:
        return parse(path.read_text())
    except (OSError, UnicodeDecodeError):
        return None
