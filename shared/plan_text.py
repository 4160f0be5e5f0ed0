"""plan.json as text: what the plan step prints and `r2a plan` shows (one place, so both read the same)."""

from __future__ import annotations

from typing import Any

from shared.log import one_line, visible


def size(count: float | int | None) -> str:
    if count is None:
        return ""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{int(count)} B"


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def plan_lines(plan: dict[str, Any]) -> list[str]:
    tables, totals, comp, estimate = plan["tables"], plan["totals"], plan["compression"], plan["estimate"]
    names = [visible(t["table"]) for t in tables]  # names are Redshift's text: no line of theirs starts a line here
    width = max([len(n) for n in names] + [5])
    lines = [f"plan of run {plan['run_id']}: {totals['tables']:,} tables, {totals['rows']:,} rows, "
             f"{totals['size_mb']:,.1f} MB of data in Redshift (svv_table_info's size less each table's empty blocks), largest first",
             f"{'table':<{width}}  {'rows':>14} {'size MB':>10} {'S3 bytes':>10}  sampled"]
    lines += [f"{name:<{width}}  {t['rows']:>14,} {t['size_mb']:>10,.1f} {size(t['s3_bytes']):>10}  "
              f"{'yes' if t['sampled'] else ''}" for name, t in zip(names, tables, strict=True)]
    ratio = comp["ratio"]
    lines += [f"S3 after {comp['codec']}: {size(totals['s3_bytes'])} (ratio "
              f"{'unknown' if ratio is None else f'{ratio:.3f}'} from {comp['sample_rows']:,} sampled rows of "
              f"{comp['sampled_tables']} tables); S3 → GCS egress: {size(totals['s3_to_gcs_egress_bytes'])}",
              f"estimate: {duration(estimate['total_s'])} (transfers {duration(estimate['transfers_s'])} at "
              f"{estimate['throttles']['concurrent_transfers']} at once, post-data {duration(estimate['post_data_s'])}"
              f" with index-jobs {estimate['throttles']['index_jobs']})",
              f"objects that will not migrate: {len(plan['not_migrated'])}"]
    lines += ["  " + one_line(f"{o['kind']} {o['name']}: {o['status']} in {o['stage']}: {o['reason']}")
              for o in plan["not_migrated"]]
    return lines
