"""report.html: one self-contained page (no network) a user opens from the bucket or a laptop.

Sections a reader needs without scripts (verdict, counts, failed tables, objects not migrated, violations, changed
objects) are rendered here; the timeline and the tables list are drawn by a small inline script from a compact JSON
block (offsets in ms from the run's start, phases as flat number lists), so 5,000 tables stay well under 5 MB: the
canvas paints only the lanes in view and the list shows one page, in columns of fixed width (no name or error can
push the page wider than the window).
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from typing import Any

from shared.documents.objects import CHANGES
from shared.documents.summary import Summary
from shared.errors import BadInputError
from shared.identifiers import canonical_part, parse_table_ref
from shared.log import redact_value
from shared.results import PhaseTiming
from shared.runstate import STATUSES
from steps.report.collect import RunInputs, not_migrated
from steps.report.html_assets import CSS, JS
from steps.report.plan_section import plan_html
from steps.report.tables import TableRow
from steps.report.timefmt import parse_ts

# (data key, header, width in % of the list): fixed widths, so no name or error can widen the page
LIST_COLUMNS = (("table", "table", 23), ("status", "status", 7), ("change", "change", 8),
                ("start", "started", 10), ("duration", "duration s", 7), ("rowsSource", "rows source", 7),
                ("rowsLoaded", "rows loaded", 7), ("bytes", "moved", 6), ("attempts", "attempts", 7), ("error", "error", 18))


def _offset(moment: datetime | None, origin: datetime) -> int | None:
    return None if moment is None else int(round((moment - origin).total_seconds() * 1000))


def _bars(phases: list[PhaseTiming], origin: datetime, names: dict[str, int]) -> list[int]:
    flat: list[int] = []
    for phase in phases:
        start = parse_ts(phase.started_at)
        if start is None:
            continue
        end = parse_ts(phase.finished_at)
        duration_ms = int(round((phase.duration_s or 0) * 1000)) if end is None else _offset(end, start)
        flat += [names.setdefault(phase.name, len(names)), _offset(start, origin), max(0, duration_ms),
                 1 if phase.status == "failed" else 0]
    return flat


def timeline_data(inputs: RunInputs, rows: list[TableRow]) -> dict[str, Any]:
    """The JSON the page's script reads; every time is milliseconds after the run's first start."""
    starts = [parse_ts(r.started_at) for r in rows] + [parse_ts(s.started_at) for s in inputs.steps]
    ends = [parse_ts(r.finished_at) for r in rows] + [parse_ts(s.finished_at) for s in inputs.steps]
    starts = [t for t in starts if t]
    ends = [t for t in ends + starts if t]
    origin = min(starts) if starts else None
    names: dict[str, int] = {}
    sizes = {entry.table: entry.size_mb for entry in inputs.plan or []}
    extra = {row.table: [row.change, _schema(row.table), sizes.get(row.table), inputs.batches.get(row.table, "")]
             for row in rows}
    if origin is None:
        return {"run_id": inputs.run_id, "t0": 0, "span": 1, "phases": [], "steps": [],
                "tables": [_table(row, None, names, extra) for row in rows]}
    steps = [[s.step, s.status, _offset(parse_ts(s.started_at), origin),
              _offset(parse_ts(s.finished_at) or parse_ts(s.started_at), origin),
              _bars(s.phases, origin, names)] for s in inputs.steps]
    tables = [_table(row, origin, names, extra) for row in rows]
    return {"run_id": inputs.run_id, "t0": int(origin.timestamp() * 1000),
            "span": max(1, _offset(max(ends), origin)), "phases": list(names), "steps": steps, "tables": tables}


def _schema(table: str) -> str:
    try:
        return canonical_part(parse_table_ref(table).schema)
    except BadInputError:
        return ""


def _table(row: TableRow, origin: datetime | None, names: dict[str, int], extra: dict[str, list[Any]]) -> list[Any]:
    """One list row; the page's script names the positions (T in html_assets.JS): change, schema, planned size and
    fan-out batch come last."""
    start, end = parse_ts(row.started_at), parse_ts(row.finished_at)
    return [row.table, row.target, row.status,
            _offset(start, origin) if origin and start else None, _offset(end, origin) if origin and end else None,
            row.duration_s, row.rows_source, row.rows_loaded, row.bytes, row.attempts, row.error,
            _bars(row.phases, origin, names) if origin else [], *extra[row.table]]


def _json_for_script(value: Any) -> str:
    """JSON safe inside <script>: no '<' can close the element or open a comment. Every string is redacted
    before encoding, because JSON's escapes (\\u003c, \\") would hide a secret from redacting the page."""
    return json.dumps(redact_value(value), separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")


def _cell(value: Any, cls: str = "") -> str:
    text = "" if value is None else escape(str(value))
    return f'<td class="{escape(cls)}">{text}</td>' if cls else f"<td>{text}</td>"


def _table_html(element_id: str, headers: list[str], body: list[str], empty: str) -> str:
    if not body:
        return f'<p id="{element_id}" class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return (f'<div class="scroll"><table id="{element_id}"><thead><tr>{head}</tr></thead><tbody>'
            + "".join(body) + "</tbody></table></div>")


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else ("" if value is None else str(value))


def _size(count: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count} B"


def _cards(summary: Summary) -> str:
    counts, totals = summary.counts, summary.totals
    wall = totals.wall_time_s
    items = [(summary.planned_tables, "planned tables")] + [(counts[s], s.replace("_", " ")) for s in STATUSES]
    items += [(summary.retried_tables, "retried"), (_number(totals.rows_loaded), "rows loaded"),
              (_size(totals.bytes_compressed), "moved (compressed)"),
              ("" if wall is None else f"{wall / 60:,.1f} min", "wall time"),
              (summary.objects_not_migrated.total, "objects not migrated")]
    return '<div class="cards">' + "".join(
        f"<div class=\"card\"><b>{escape(_number(v))}</b><span>{escape(label)}</span></div>" for v, label in items
    ) + "</div>"


def _steps(summary: Summary) -> str:
    body = [f"<tr>{_cell(s['step'])}{_cell(s['status'], 's-' + s['status'])}{_cell(s['started_at'])}"
            f"{_cell(s['finished_at'])}{_cell(s['duration_s'], 'num')}"
            f"{_cell(' '.join(f'{k}={v}' for k, v in sorted(s['counts'].items())))}{_cell(s['error'], 'err')}</tr>"
            for s in summary.steps]
    return _table_html("steps", ["step", "status", "started", "finished", "duration s", "counts", "error"], body,
                       "No step results found in steps/.")


def _failed(rows: list[TableRow]) -> str:
    body = [f"<tr>{_cell(r.table, 'name')}{_cell(r.target, 'name')}{_cell(r.status, 's-' + r.status)}"
            f"{_cell(r.attempts, 'num')}{_cell(r.finished_at)}{_cell(r.error, 'err')}</tr>"
            for r in rows if r.planned and r.status != "succeeded"]
    return _table_html("failed-tables", ["table", "target", "status", "attempts", "finished", "error"], body,
                       "Every planned table succeeded.")


def _not_migrated(inputs: RunInputs, summary: Summary) -> str:
    groups = [f"<tr>{_cell(g['kind'])}{_cell(g['stage'])}{_cell(g['status'])}{_cell(g['count'], 'num')}"
              f"{_cell(g['reason'], 'err')}</tr>" for g in summary.objects_not_migrated.by_reason]
    grouped = _table_html("not-migrated", ["kind", "stage", "status", "count", "reason"], groups,
                          "Every object was migrated.")
    dropped = not_migrated(inputs.objects)
    if not dropped:
        return grouped
    detail = [f"<tr>{_cell(o.kind)}{_cell(o.name, 'name')}{_cell(o.target_name, 'name')}{_cell(o.stage)}"
              f"{_cell(o.status)}{_cell(o.reason, 'err')}</tr>" for o in dropped]
    return grouped + (f"<details><summary>all {len(dropped)} objects</summary>"
                      + _table_html("not-migrated-objects", ["kind", "name", "AlloyDB name", "stage", "status",
                                                             "reason"], detail, "") + "</details>")


def _violations(summary: Summary) -> str:
    body = [f"<tr>{_cell(v['name'], 'name')}{_cell(v['target_name'], 'name')}{_cell(v['status'])}"
            f"{_cell(v['violations'], 'num')}{_cell(v['reason'], 'err')}</tr>"
            for v in summary.constraint_violations]
    return _table_html("violations", ["constraint", "AlloyDB name", "status", "violating rows", "reason"], body,
                       "No constraint violations.")


def _finished_late(summary: Summary) -> str:
    if not summary.finished_after_post_data:
        return ""
    body = []
    for record in summary.finished_after_post_data:
        objects = ", ".join(f"{o['name']} {o['status']}" for o in record["objects"]) or "none waiting"
        views = ", ".join(f"{v.get('materialized_view')} {v.get('status')}"
                          for v in record["materialized_views_refreshed"]) or "none"
        body.append(f"<tr>{_cell(record['table'], 'name')}{_cell(record['finished_at'])}{_cell(objects)}"
                    f"{_cell(record['sequences_reseeded'], 'num')}{_cell('yes' if record['analyzed'] else 'no')}"
                    f"{_cell(views)}</tr>")
    return ('<section id="finished-late"><h2>Tables finished after post-data</h2>'
            '<div class="muted">Loaded by a retry after post-data ran; their transfer applied what post-data had '
            'deferred.</div>'
            + _table_html("finished-after-post-data", ["table", "finished at", "keys and indexes applied",
                                                        "identity columns reseeded", "analyzed",
                                                        "materialized views refreshed"], body, "") + "</section>")


def _synced(summary: Summary) -> str:
    """A run with a sync config: each incrementally synced table's mode, watermark from → to and row changes, and
    each table loaded in full with the reason."""
    synced, full = summary.synced_tables, summary.full_despite_sync_config
    if not synced and not full:
        return ""
    body = [f"<tr>{_cell(s['table'], 'name')}{_cell(s['status'])}{_cell(s['mode'])}"
            f"{_cell(s['watermark_from'] if s['watermark_from'] is not None else '(whole table)')}"
            f"{_cell(s['watermark_to'])}{_cell(s['rows_inserted'], 'num')}{_cell(s['rows_updated'], 'num')}"
            f"{_cell(s['rows_deleted'], 'num')}</tr>" for s in synced]
    table = _table_html("synced-tables", ["table", "status", "mode", "watermark from", "watermark to",
                                          "rows inserted", "rows updated", "rows deleted"], body,
                        "No table is synced incrementally.")
    reasons = [f"<tr>{_cell(f['table'], 'name')}{_cell(f['reason'], 'err')}</tr>" for f in full]
    loaded_full = _table_html("full-despite-sync-config", ["table", "loaded in full because"], reasons, "") if full \
        else ""
    return ('<section id="sync"><h2>Incremental sync</h2>'
            '<div class="muted">Tables the sync config names as append or upsert merge the rows whose cursor moved '
            'past the last watermark; the others are loaded in full.</div>' + table + loaded_full + "</section>")


def _changes(summary: Summary) -> str:
    """What a run into an existing target did (refresh runs): counts per change, every non-table object created,
    changed or dropped in the source by name (tables: the list's change column and filter)."""
    counts = summary.changes.counts
    if not counts:
        return ""
    cards = '<div class="cards">' + "".join(
        f'<div class="card"><b>{escape(_number(counts[c]))}</b><span>{escape(c.replace("_", " "))}</span></div>'
        for c in sorted(counts, key=lambda c: (CHANGES + (c,)).index(c))) + "</div>"
    body = [f"<tr>{_cell(o.get('kind'))}{_cell(o.get('name'), 'name')}"
            f"{_cell(o.get('change'), 'c-' + str(o.get('change')))}{_cell(o.get('status'))}"
            f"{_cell(o.get('reason'), 'err')}</tr>"
            for o in summary.changes.objects if o.get("kind") != "table"]
    objects = _table_html("changed-objects", ["kind", "name", "change", "status", "reason"], body,
                          "No view, function or other object was created, changed or dropped in the source.")
    return ('<section id="changes"><h2>Changes since the previous run</h2>'
            '<div class="muted">Objects by what this run did to them; per table, see the change column and '
            'filter of the tables list.</div>' + cards + objects + "</section>")


def _problems(summary: Summary) -> str:
    if not summary.input_problems:
        return ""
    items = "".join(f"<li><code>{escape(p['path'])}</code>: {escape(p['reason'])}</li>"
                    for p in summary.input_problems)
    return f'<h2>Input files the report could not use</h2><ul id="input-problems">{items}</ul>'


def render_html(inputs: RunInputs, rows: list[TableRow], summary: Summary) -> str:
    ok = summary.all_planned_succeeded
    planned = summary.planned_counts
    if ok:
        verdict = f"All {summary.planned_tables} planned tables succeeded."
    elif not summary.plan_found:
        verdict = "No plan (tables.json): load_schema pre-data did not finish, no table was transferred."
    else:
        verdict = (f"{summary.planned_tables - planned['succeeded']} of {summary.planned_tables} planned "
                   f"tables did not succeed (failed {planned['failed']}, not run {planned['not_run']}, "
                   f"skipped {planned['skipped']}).")
    status_options = "".join(f'<option value="{s}">{s}</option>' for s in STATUSES)
    change_options = "".join(f'<option value="{c}">{c.replace("_", " ")}</option>' for c in CHANGES)
    colgroup = "".join(f'<col style="width:{width}%">' for _, _, width in LIST_COLUMNS)
    list_head = "".join(f'<th data-key="{key}" data-label="{escape(label)}">{escape(label)}</th>'
                        for key, label, _ in LIST_COLUMNS)
    run = escape(inputs.run_id)
    span = (f"{escape(summary.run_started_at or '?')} → {escape(summary.run_finished_at or '?')}"
            if summary.run_started_at else "no timings recorded")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>r2a report {run}</title><style>{CSS}</style></head>
<body>
<h1>Redshift → AlloyDB migration <code>{run}</code></h1>
<div class="muted">{span} · report generated {escape(summary.generated_at)}</div>
<div id="verdict" class="verdict {'ok' if ok else 'bad'}">{escape(verdict)}</div>
<section id="summary"><h2>Summary</h2>{_cards(summary)}{_steps(summary)}</section>
<section id="timeline"><h2>Timeline</h2>
<div class="muted">Steps first, then the tables by start time, or in groups (click a group's row to open or close
it: its row shows how many of its tables ran at each moment); hover a row for its phases. The filters of the
tables list apply here too.</div>
<div class="controls"><label>group by <select id="group-by"><option value="none">nothing (start time)</option>
<option value="size">planned size</option><option value="batch">fan-out batch</option>
<option value="schema">schema</option></select></label>
<button type="button" id="group-open">open all</button><button type="button" id="group-close">close all</button>
</div>
<div id="gantt-legend" class="legend"></div>
<div id="gantt-wrap"><canvas id="gantt" width="1" height="1"></canvas><div id="gantt-spacer"></div></div>
<div id="gantt-tip"></div></section>
{plan_html(summary.plan)}
<section id="failed"><h2>Failed and missing tables</h2>{_failed(rows)}</section>
<section id="objects"><h2>Objects not migrated</h2>{_not_migrated(inputs, summary)}</section>
<section id="constraints"><h2>Constraint violations</h2>{_violations(summary)}</section>
{_changes(summary)}
{_synced(summary)}
{_finished_late(summary)}
{_problems(summary)}
<section id="tables"><h2>Tables</h2>
<div class="controls"><input id="filter-text" type="search" placeholder="filter by name or error">
<select id="filter-status"><option value="">any status</option>{status_options}</select>
<select id="filter-change"><option value="">any change</option>{change_options}
<option value="-">no change recorded</option></select>
<select id="filter-schema"><option value="">any schema</option></select>
<span id="tables-count" class="muted"></span></div>
<div class="list-wrap"><table id="tables-list"><colgroup>{colgroup}</colgroup><thead><tr>{list_head}</tr></thead>
<tbody id="tables-body"></tbody></table></div>
<div class="controls pager"><button type="button" id="page-first">&laquo; first</button>
<button type="button" id="page-prev">&lsaquo; previous</button><span id="page-info"></span>
<button type="button" id="page-next">next &rsaquo;</button><button type="button" id="page-last">last &raquo;</button>
<label>rows per page <select id="page-size"><option>50</option><option selected>100</option><option>250</option>
<option>1000</option></select></label></div></section>
<script type="application/json" id="report-data">{_json_for_script(timeline_data(inputs, rows))}</script>
<script>{JS}</script>
</body></html>
"""
