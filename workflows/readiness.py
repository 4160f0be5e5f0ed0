"""Cut-over readiness of a finished run (`r2a readiness --run-id R`): is every table in sync, and what is not migrated.

A table is in sync (✓) when its transfer succeeded and was verified by checksum (`--verify checksum`: for an
incrementally synced table the whole table's per-column aggregates, steps/table_transfer/sync_load.py), else ✗ with
the reason. Its lag at the start of the run is how long before the run's transfer its previous sync had committed
(`synced_before` in its result; none for a table reloaded in full). The objects not migrated come from the run's
summary.json. The run is ready when every planned table is ✓. Written to report/readiness.json and printed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from workflows.argo import run_results


@dataclass(frozen=True)
class TableReadiness:
    table: str
    in_sync: bool
    reason: str  # why not in sync; empty when it is
    mode: str  # full, append, upsert
    watermark: str | None
    lag_at_start_s: float | None


def _seconds_between(earlier: str | None, later: str | None) -> float | None:
    if not earlier or not later:
        return None
    try:
        start = datetime.fromisoformat(earlier.replace("Z", "+00:00"))
        end = datetime.fromisoformat(later.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((end - start).total_seconds(), 1)


def table_readiness(table: str, result: dict | None) -> TableReadiness:
    if result is None:
        return TableReadiness(table, False, "no result: the transfer did not run", "", None, None)
    mode = result.get("sync_mode") or "full"
    watermark = result.get("watermark_to") if result.get("status") == "succeeded" else result.get("watermark_from")
    lag = _seconds_between(result.get("synced_before"), result.get("started_at"))
    if result.get("status") != "succeeded":
        error = result.get("error") or {}
        reason = f"{result.get('status')}: {error.get('message', '') if isinstance(error, dict) else error}"
        return TableReadiness(table, False, reason[:500], mode, watermark, lag)
    if result.get("checksum_match") is not True:
        return TableReadiness(table, False, "not verified by checksum (run with -p verify=checksum)", mode,
                              watermark, lag)
    return TableReadiness(table, True, "", mode, watermark, lag)


def readiness(store, layout) -> dict[str, Any]:
    """The readiness document of a run: tables (plan order), objects not migrated, ready."""
    planned, results = run_results(store, layout)
    tables = [table_readiness(name, results.get(name)) for name in planned]
    summary_url = layout.report("summary.json")
    not_migrated: dict[str, Any] = {"total": None, "by_kind": {}}
    if store.exists(summary_url):
        summary = store.read_json(summary_url)
        if isinstance(summary, dict) and isinstance(summary.get("objects_not_migrated"), dict):
            found = summary["objects_not_migrated"]
            not_migrated = {"total": found.get("total"), "by_kind": found.get("by_kind") or {}}
    return {"run_id": layout.run_id, "ready": bool(tables) and all(t.in_sync for t in tables),
            "tables": [asdict(t) for t in tables], "objects_not_migrated": not_migrated}


def readiness_lines(document: dict[str, Any]) -> list[str]:
    tables = document["tables"]
    width = max([len(t["table"]) for t in tables] + [5])
    lines = [f"   {'table':<{width}}  {'mode':<6} {'watermark':<26} {'lag at start':>12}  reason"]
    for t in tables:
        lag = "" if t["lag_at_start_s"] is None else f"{t['lag_at_start_s']:.0f} s"
        lines.append(f"{'✓' if t['in_sync'] else '✗'}  {t['table']:<{width}}  {t['mode']:<6} "
                     f"{t['watermark'] or '':<26} {lag:>12}  {t['reason']}")
    missing = document["objects_not_migrated"]
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(missing["by_kind"].items()))
    lines.append(f"objects not migrated: {missing['total'] if missing['total'] is not None else 'unknown (no summary.json)'}"
                 + (f" ({kinds})" if kinds else ""))
    in_sync = sum(t["in_sync"] for t in tables)
    lines.append(f"{'ready' if document['ready'] else 'not ready'}: {in_sync} of {len(tables)} tables in sync")
    return lines
