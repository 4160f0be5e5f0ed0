"""The run's plan (plan.json, written by a dry run's plan step) in the report, when the run folder has one: its
totals, how the compression ratio was obtained, the estimate beside the measured wall time, the largest tables."""

from __future__ import annotations

from html import escape
from typing import Any

from shared.documents.run_plan import RunPlan
from shared.errors import BadInputError
from shared.plan_text import duration, size

LARGEST = 20


def plan_summary(document: Any, wall_time_s: float | None) -> dict[str, Any] | None:
    """summary.json's `plan`: None without a readable plan.json."""
    if document is None:
        return None
    try:
        plan = RunPlan.from_json(document, "the dry run's plan")
    except BadInputError:
        return None
    return {"totals": plan.totals, "compression": plan.compression,
            "estimated_s": plan.estimate.get("total_s"), "measured_wall_s": wall_time_s,
            "throttles": plan.estimate.get("throttles"), "not_migrated": len(plan.not_migrated),
            "largest_tables": [{"table": t.table, "rows": t.rows, "size_mb": t.size_mb, "s3_bytes": t.s3_bytes}
                               for t in plan.tables[:LARGEST]]}


def plan_html(plan: dict[str, Any] | None) -> str:
    if plan is None:
        return ""
    totals, comp = plan["totals"], plan["compression"]
    measured = plan["measured_wall_s"]
    facts = [("tables", f"{totals.get('tables', 0):,}"), ("rows", f"{totals.get('rows', 0):,}"),
             ("Redshift data (svv_table_info's size less empty blocks)", f"{totals.get('size_mb', 0):,.1f} MB"),
             ("S3 bytes expected", size(totals.get("s3_bytes"))),
             ("S3 → GCS egress", size(totals.get("s3_to_gcs_egress_bytes"))),
             ("compression", f"{comp.get('codec')} ratio {comp.get('ratio')} ({comp.get('method')})"),
             ("estimate", duration(plan["estimated_s"] or 0) + f" with {plan['throttles']}"),
             ("measured wall time", "" if measured is None else duration(measured)),
             ("objects that will not migrate", str(plan["not_migrated"]))]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    largest = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in (
            str(t["table"]), f"{t['rows'] or 0:,}", str(t["size_mb"]), size(t["s3_bytes"]))) + "</tr>"
        for t in plan["largest_tables"])
    return ('<section id="run-plan"><h2>Plan (before the run)</h2><div class="scroll"><table id="plan-facts">'
            f"{rows}</table></div><h3>Largest tables</h3><div class=\"scroll\"><table id=\"plan-largest\">"
            "<thead><tr><th>table</th><th>rows</th><th>size MB</th><th>S3 bytes</th></tr></thead>"
            f"<tbody>{largest}</tbody></table></div></section>")
