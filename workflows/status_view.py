"""What `r2a status` prints: the table of a run's tables, once or (`--watch`) redrawn until every planned table has
a result. With thousands of tables a live view shows the tables that still need a look (not succeeded) first, as
many as the terminal holds, and the counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from shared.log import one_line, visible
from workflows.argo import TableStatus

CLEAR = "\x1b[H\x1b[2J"  # cursor home, erase the screen (ECMA-48)


def table_lines(tables: list[TableStatus]) -> list[str]:
    """One line per table; a run with incrementally synced tables (shared/syncconfig.py) gets the columns mode,
    watermark and last sync before the error."""
    names = [visible(t.table) for t in tables]  # Redshift's text: a newline or terminal escape in it stays visible
    width = max([len(n) for n in names] + [5])
    synced = any(t.sync_mode for t in tables)
    sync_width = max([len(t.watermark) for t in tables] + [9])
    sync_head = f"{'mode':<6} {'watermark':<{sync_width}} {'last sync':<25} " if synced else ""
    lines = [f"{'table':<{width}}  {'status':<9} {'rows':>12} {'seconds':>8} {'tries':>5}  {sync_head}error"]
    for name, t in zip(names, tables, strict=True):
        rows = "" if t.rows is None else f"{t.rows:,}"
        seconds = "" if t.seconds is None else f"{t.seconds:.1f}"
        mode = t.sync_mode or ("full" if t.has_result and t.status != "not_run" else "")
        sync = f"{mode:<6} {t.watermark:<{sync_width}} {t.synced_at:<25} " if synced else ""
        lines.append(f"{name:<{width}}  {t.status:<9} {rows:>12} {seconds:>8} {t.attempts or '':>5}  "
                     f"{sync}{one_line(t.error)}")
    return lines


def summary(tables: list[TableStatus]) -> str:
    counts: dict[str, int] = {}
    for t in tables:
        counts[t.status] = counts.get(t.status, 0) + 1
    return f"{len(tables)} tables: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def finished(tables: list[TableStatus]) -> bool:
    """Every planned table has a result (a failed one may still be retried by Argo, but has one)."""
    return all(t.status != "not_run" for t in tables)


def live_frame(run_id: str, tables: list[TableStatus], rows: int, now: datetime | None = None) -> list[str]:
    """One screen: when, how far, the tables not succeeded (failed first, then not run) within `rows` lines."""
    done = sum(1 for t in tables if t.status != "not_run")
    stamp = (now or datetime.now(UTC)).strftime("%H:%M:%S UTC")
    order = {"failed": 0, "not_run": 1}
    pending = sorted((t for t in tables if t.status != "succeeded"), key=lambda t: order.get(t.status, 2))
    room = max(rows - 4, 1)
    shown = pending[:room]
    lines = [f"r2a status {run_id}  {stamp}  {done}/{len(tables)} tables have a result (Ctrl-C stops)"]
    lines += table_lines(shown) if shown else ["every table succeeded"]
    if len(pending) > len(shown):
        lines.append(f"… and {len(pending) - len(shown)} more not succeeded")
    lines.append(summary(tables))
    return lines


def watch(run_id: str, fetch: Callable[[], list[TableStatus]], echo: Callable[[str], None], interval_s: float,
          rows: int, sleep: Callable[[float], None] = time.sleep) -> list[TableStatus]:
    """Redraw the live frame every `interval_s` until every table has a result; returns the last tables."""
    while True:
        tables = fetch()
        echo(CLEAR + "\n".join(live_frame(run_id, tables, rows)))
        if finished(tables):
            return tables
        sleep(interval_s)
