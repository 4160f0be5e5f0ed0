"""Totals a step hands to Argo as output parameters, for the templates' Prometheus metrics.

Argo reads an output parameter from a file when the pod ends (`valueFrom.path`, with a `default` when the pod wrote
none) and the controller then emits the template's custom metrics from `{{outputs.parameters.<name>}}`
(https://argo-workflows.readthedocs.io/en/latest/variables/#metrics). The folder comes from R2A_OUTPUTS_DIR (set
by the template); without it nothing is written. A failed write never fails the step: metrics are for the
operator, the results in GCS are the record.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from shared.log import event, one_line
from shared.results import TableResult

ENV = "R2A_OUTPUTS_DIR"
TRANSFER_TOTALS = ("rows", "bytes", "tables", "tables-failed")  # table-transfer's output parameters


def transfer_totals(results: Iterable[TableResult]) -> dict[str, int]:
    results = list(results)
    return {"rows": sum(r.rows_loaded or 0 for r in results),
            "bytes": sum(r.bytes_compressed or 0 for r in results),
            "tables": len(results),
            "tables-failed": sum(1 for r in results if r.status == "failed")}


def write(values: Mapping[str, int], environ: Mapping[str, str] = os.environ) -> None:
    folder = environ.get(ENV)
    if not folder:
        return
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for name, value in values.items():
            (Path(folder) / name).write_text(str(int(value)))
    except OSError as exc:
        event("outputs.unwritable", path=folder, error=one_line(exc, 160))
