"""report.html of a 5,000-table run in headless Chromium at 1,280 px: nothing overflows sideways, the list pages,
the filters (status, change, schema, text) and the timeline's groups work, and hostile names stay text.

The run is report_bench's (benchmarks/report_bench.py) with a few tables renamed to what Redshift allows in a
quoted identifier (up to 127 bytes, any character but NUL: https://docs.aws.amazon.com/redshift/latest/dg/r_names.html)
and a refresh night's changes. The page is measured by a probe script the test appends to a copy of the report:
the browser's own layout numbers (scrollWidth against clientWidth, bounding boxes), read from --dump-dom.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pytest

from benchmarks.report_bench import run_documents, table_name
from shared.identifiers import parse_table_ref
from shared.log import register_secret
from shared.objectstore import RunLayout
from steps.report.collect import RawRun
from steps.report.core import build_report
from steps.report.html import _json_for_script
from steps.report.timefmt import parse_ts
from tests.report import browser

RUN_ID = "bench_20260101_020000"
TABLES = 5000
WIDTH = 1280
SECRET = 's3cr<et"pw-Scale-9f1'  # a '<' and a '"': JSON-in-script escapes both
LONG = "x" * 127  # the longest Redshift identifier, no break opportunity in it
HOSTILE = {  # plan position -> Redshift name (quoted the SQL way, "" is a quote)
    0: 'public."</script><script>document.body.setAttribute(\'data-pwned\',\'script\')</script>"',
    1: 'public."<img src=x onerror=""document.body.setAttribute(\'data-pwned\',\'img\')"">"',
    2: f'"{LONG}"."{LONG}"',
    3: 'public."it\'s ""quoted"" & <b>bold</b>"',
}
LONG_ERROR = "s3://bucket/" + "k" * 400  # one unbroken token in an error message


def documents() -> dict:
    layout = RunLayout(RUN_ID, gcs_bucket="bench")
    docs = {layout.relative(url): document for url, document in run_documents(layout, TABLES).items()}
    plan = docs["tables.json"]["tables"]
    for position, name in HOSTILE.items():
        old = plan[position]["table"]
        plan[position]["table"] = plan[position]["target"] = name
        ref = parse_table_ref(name)
        plan[position]["source"] = plan[position]["target_ref"] = {"schema": ref.schema, "name": ref.table}
        result = docs[f"results/{old}.json"]
        result["table"] = result["target"] = name
    failed = docs[f"results/{table_name(5)}.json"]
    failed["error"]["message"] = f"<img src=x onerror=alert(1)> password={SECRET} {LONG_ERROR}"
    changes = [{"kind": "table", "name": table_name(i), "target_name": table_name(i), "status": "applied",
                "change": "created"} for i in range(10, 13)]
    changes += [{"kind": "table", "name": table_name(i), "target_name": table_name(i), "status": "unchanged",
                 "kept": True, "change": "refreshed"} for i in range(13, 4000)]
    changes += [
        {"kind": "table", "name": table_name(20), "target_name": table_name(20), "status": "applied", "kept": True,
         "change": "changed", "reason": "column(s) added in the source, added here: email"},
        {"kind": "table", "name": "legacy.gone", "target_name": "legacy.gone", "status": "dropped_in_source",
         "kept": True, "change": "dropped_in_source", "reason": "no longer in the source; kept in AlloyDB"}]
    docs["load_report.json"] = {"format_version": 1, "run_id": RUN_ID, "step": "load_schema",
                                "section": "pre-data", "objects": changes}
    docs["post_data_report.json"] = {"format_version": 1, "run_id": RUN_ID, "step": "load_schema",
                                     "section": "post-data", "objects": [
        {"kind": "view", "name": 'public."v_<img src=x onerror=alert(2)>"', "target_name": "public.v_x",
         "status": "applied", "change": "changed", "reason": "changed in the source; replaced"},
        {"kind": "function", "name": "public.f_new(integer)", "target_name": "public.f_new(integer)",
         "status": "applied", "change": "created"}]}
    return docs


PROBE = r"""<script>
(function () {
  function measure() {
    var section = document.getElementById('tables'), list = section.querySelector('.list-wrap');
    var root = document.documentElement, status = section.querySelector('th[data-key=status]');
    var cells = section.querySelectorAll('th, td'), right = 0;
    for (var i = 0; i < cells.length; i++) right = Math.max(right, cells[i].getBoundingClientRect().right);
    return {section: [section.scrollWidth, section.clientWidth], list: [list.scrollWidth, list.clientWidth],
            page: [root.scrollWidth, root.clientWidth], statusRight: status.getBoundingClientRect().right,
            cellsRight: right, listRight: list.getBoundingClientRect().right,
            shown: +document.getElementById('tables-body').getAttribute('data-shown'),
            rows: +document.getElementById('tables-body').getAttribute('data-rows')};
  }
  function pick(id, value) {
    var element = document.getElementById(id); element.value = value;
    element.dispatchEvent(new Event(id === 'filter-text' ? 'input' : 'change'));
    return +document.getElementById('tables-body').getAttribute('data-rows');
  }
  var canvas = document.getElementById('gantt'), out = {first: measure()};
  out.grouped = {groups: +canvas.getAttribute('data-groups'), lanes: +canvas.getAttribute('data-lanes'),
                 painted: +canvas.getAttribute('data-painted-pixels')};
  canvas.dispatchEvent(new MouseEvent('click', {clientY: canvas.getBoundingClientRect().top + 22 + 4 * 18 + 9}));
  out.opened = +canvas.getAttribute('data-lanes');
  out.status = pick('filter-status', 'failed'); pick('filter-status', '');
  out.created = pick('filter-change', 'created'); out.refreshed = pick('filter-change', 'refreshed');
  out.dropped = pick('filter-change', 'dropped_in_source'); out.noChange = pick('filter-change', '-');
  pick('filter-change', '');
  out.schema = pick('filter-schema', 'schema_07');
  out.schemaLanes = +canvas.getAttribute('data-lanes'); pick('filter-schema', '');
  out.text = pick('filter-text', '<\/script>'); pick('filter-text', '');
  document.getElementById('page-next').click();
  out.secondPage = document.getElementById('page-info').textContent;
  document.getElementById('page-first').click();
  var size = document.getElementById('page-size'); size.value = '1000'; size.dispatchEvent(new Event('change'));
  out.thousand = measure();
  size.value = '100'; size.dispatchEvent(new Event('change'));
  document.getElementById('group-by').value = 'none';
  document.getElementById('group-by').dispatchEvent(new Event('change'));
  out.ungroupedLanes = +canvas.getAttribute('data-lanes');
  document.getElementById('group-by').value = 'batch';
  document.getElementById('group-by').dispatchEvent(new Event('change'));
  out.batchGroups = +canvas.getAttribute('data-groups');
  document.getElementById('group-by').value = 'size';
  document.getElementById('group-by').dispatchEvent(new Event('change'));
  out.images = document.images.length;
  out.pwned = document.body.getAttribute('data-pwned');
  var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


@pytest.fixture(scope="module")
def report():
    register_secret(SECRET)
    return build_report(RawRun(RUN_ID, documents(), {}), parse_ts("2026-01-01T05:00:00.000Z"), {})


@pytest.fixture(scope="module")
def probed(report, tmp_path_factory):
    """(numbers the probe read in Chromium, the report's page, the folder of the screenshot)."""
    work = tmp_path_factory.mktemp("report-scale")
    page = work / "report.html"
    page.write_bytes(report.files["report.html"])
    probe_page = work / "report-probed.html"
    probe_page.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = browser.dump_dom(probe_page, work, (WIDTH, 1000))
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-3000:]
    artifacts = (Path(os.environ.get("R2A_ARTIFACTS_DIR", "test-artifacts")) / "report").resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    return json.loads(html.unescape(found.group(1))), page, artifacts, work


def test_tables_section_has_no_horizontal_overflow_at_1280_px(probed):
    numbers, page, artifacts, work = probed
    for view in ("first", "thousand"):  # 100 rows (the first page, hostile names on it) and 1,000 rows
        measured = numbers[view]
        assert measured["section"][0] <= measured["section"][1], (view, measured)
        assert measured["list"][0] <= measured["list"][1], (view, measured)
        assert measured["page"][0] <= measured["page"][1] == WIDTH, (view, measured)
        assert measured["cellsRight"] <= measured["listRight"] <= WIDTH, (view, measured)
        assert measured["statusRight"] < WIDTH / 2, (view, measured)  # the status column is in view
    assert (numbers["first"]["shown"], numbers["first"]["rows"]) == (100, TABLES + 40 + 1)
    assert numbers["thousand"]["shown"] == 1000
    image = browser.screenshot(page, artifacts / "report-5000-tables-1280.png", work, (WIDTH, 4200))
    assert image.stat().st_size > 50_000


def test_filters_page_and_group_5000_tables(probed):
    numbers = probed[0]
    assert numbers["status"] == 76  # every 66th of report_bench's tables failed
    assert (numbers["created"], numbers["refreshed"], numbers["dropped"]) == (3, 3986, 1)  # table 20 changed
    assert numbers["noChange"] == TABLES + 40 + 1 - 3 - 3986 - 1 - 1
    assert numbers["schema"] == 250
    # steps, 3 size classes, and the 199 tables of schema_07 in the '>= 1 GB' class, which the click opened
    assert numbers["schemaLanes"] == 4 + 3 + 199
    assert numbers["text"] == 1
    assert numbers["secondPage"] == f"rows 101\u2013200 of {TABLES + 41} (page 2 of 51)"
    assert numbers["grouped"]["groups"] == 3 and numbers["grouped"]["lanes"] == 4 + 3  # steps + size classes
    assert numbers["grouped"]["painted"] > 1000
    assert numbers["opened"] > 3000  # a click on the '>= 1 GB' lane lists its tables
    assert numbers["ungroupedLanes"] == 4 + TABLES - 25
    assert numbers["batchGroups"] == 1 + 500  # the tables moved alone, and report_bench's 500 batches


def test_hostile_names_stay_text_and_secrets_stay_out(probed, report):
    numbers = probed[0]
    assert numbers["images"] == 0 and numbers["pwned"] is None
    page = report.files["report.html"].decode()
    data = page.split('id="report-data">')[1].split("</script>")[0]
    assert "<" not in data
    assert SECRET not in page and "s3cr\\u003cet" not in page and "s3cr&lt;et" not in page
    assert "password=***" in data
    changes = page[page.index('id="changes"'):page.index('id="tables"')]
    assert "public.&quot;v_&lt;img src=x onerror=alert(2)&gt;&quot;" in changes
    assert "public.f_new(integer)" in changes and "legacy.gone" not in changes  # tables: in the list


def test_the_page_data_is_redacted_before_json_escapes_the_secret():
    register_secret(SECRET)
    encoded = _json_for_script({"tables": [[f"public.t_{SECRET}", "", "failed", f"seen {SECRET}"]]})
    assert "s3cr" not in encoded and encoded.count("***") == 2
