"""The stylesheet and script inlined into report.html (kept as Python strings so every install carries them).

The script is one function in three parts: the shared state and filters (here), the timeline (html_timeline.py)
and the paged tables list (here). Every text from the data goes into the page through `esc()` or `textContent`.
"""

from steps.report.html_timeline import JS_TIMELINE

CSS = """
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1400px;padding:0 16px 48px;color:#1d2330}
h1{font-size:22px;margin:18px 0 4px;overflow-wrap:anywhere}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600;margin:6px 0}
.ok{background:#dcf5e3;color:#14532d}.bad{background:#fde2e1;color:#7f1d1d}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}.card{border:1px solid #dde;border-radius:6px;padding:6px 12px;min-width:110px}
.card b{display:block;font-size:18px}.card span{color:#556;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eef;vertical-align:top;overflow-wrap:break-word}
th{background:#f4f5fa;position:sticky;top:0;cursor:default}th.sortable{cursor:pointer}th.sortable:hover{background:#e6e8f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.err{color:#8a1c1c;max-width:520px;overflow-wrap:anywhere}
td.name{min-width:16em;overflow-wrap:anywhere}
.clamp{display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:4;overflow:hidden}
#tables-list{table-layout:fixed}#tables-list td{overflow-wrap:anywhere}#tables-list td.err{max-width:none}
.target{display:block;color:#667;font-size:12px}
.s-succeeded{color:#166534}.s-failed{color:#b91c1c;font-weight:600}.s-skipped{color:#92400e}.s-not_run{color:#6b21a8;font-weight:600}
.c-created{color:#166534}.c-changed{color:#92400e;font-weight:600}.c-dropped_in_source{color:#b91c1c}.c-refreshed,.c-unchanged{color:#445}
#gantt-wrap{position:relative;height:480px;overflow-y:auto;overflow-x:hidden;border:1px solid #dde;border-radius:6px}
#gantt{position:sticky;top:0;display:block}
#gantt-tip{position:fixed;pointer-events:none;background:#1d2330;color:#fff;padding:6px 8px;border-radius:4px;font-size:12px;display:none;max-width:460px;z-index:10;white-space:pre-wrap;overflow-wrap:anywhere}
.legend{display:flex;flex-wrap:wrap;gap:10px;font-size:12px;margin:6px 0}.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
.controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:6px 0}.controls input{width:300px;max-width:100%;padding:4px}
.controls select{max-width:240px}
.scroll,.list-wrap{max-height:560px;overflow:auto;border:1px solid #dde;border-radius:6px}
.list-wrap{max-height:none;overflow:visible}
.muted{color:#667}code{font-size:12px}
"""

JS_STATE = r"""
  'use strict';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  // positions in a table row (report/html.py _table)
  var T = {table: 0, target: 1, status: 2, start: 3, end: 4, duration: 5, rowsSource: 6, rowsLoaded: 7,
           bytes: 8, attempts: 9, error: 10, phases: 11, change: 12, schema: 13, sizeMb: 14, batch: 15};
  var state = {text: '', status: '', change: '', schema: '', sortKey: null, sortDir: 1, page: 0, pageSize: 100};

  function esc(v) {
    return String(v == null ? '' : v).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function ts(off) { return off == null ? '' : new Date(D.t0 + off).toISOString().replace('T', ' ').slice(0, 23); }
  function secs(ms) {
    if (ms == null) return '';
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + ' s';
    if (s < 3600) return (s / 60).toFixed(1) + ' min';
    return (s / 3600).toFixed(2) + ' h';
  }
  function size(n) {
    if (n == null) return '';
    var units = [['TB', 1e12], ['GB', 1e9], ['MB', 1e6], ['kB', 1e3]];
    for (var i = 0; i < units.length; i++) if (n >= units[i][1]) return (n / units[i][1]).toFixed(1) + ' ' + units[i][0];
    return n + ' B';
  }
  function matches(row) {
    if (state.status && row[T.status] !== state.status) return false;
    if (state.change && (row[T.change] || '-') !== state.change) return false;
    if (state.schema && row[T.schema] !== state.schema) return false;
    if (!state.text) return true;
    var needle = state.text.toLowerCase();
    return (row[T.table] + ' ' + row[T.target] + ' ' + row[T.error]).toLowerCase().indexOf(needle) >= 0;
  }
"""

JS_LIST = r"""
  // ---------------------------------------------------------------- tables list: filters, sort, pages
  var tbody = document.getElementById('tables-body');
  var counter = document.getElementById('tables-count');
  var pageInfo = document.getElementById('page-info');
  var numeric = {duration: 1, rowsSource: 1, rowsLoaded: 1, bytes: 1, attempts: 1, start: 1, end: 1};
  var oneDay = ts(0).slice(0, 10) === ts(D.span).slice(0, 10);
  var filtered = [];

  function cellsOf(r) {
    var target = r[T.target] && r[T.target] !== r[T.table] ? '<span class="target">\u2192 ' + esc(r[T.target]) + '</span>' : '';
    var started = ts(r[T.start]);
    return '<tr><td>' + esc(r[T.table]) + target + '</td><td class="s-' + esc(r[T.status]) + '">' + esc(r[T.status]) +
      '</td><td class="c-' + esc(r[T.change]) + '">' + esc((r[T.change] || '').replace(/_/g, ' ')) +
      '</td><td title="' + esc(started + (r[T.end] == null ? '' : ' \u2192 ' + ts(r[T.end]))) + '">' +
      esc(oneDay ? started.slice(11) : started) + '</td><td class="num">' +
      (r[T.duration] == null ? '' : esc(r[T.duration].toFixed(3))) + '</td><td class="num">' + esc(r[T.rowsSource]) +
      '</td><td class="num">' + esc(r[T.rowsLoaded]) + '</td><td class="num" title="' + esc(r[T.bytes]) + '">' +
      esc(size(r[T.bytes])) + '</td><td class="num">' + esc(r[T.attempts]) + '</td><td class="err"><div class="clamp" title="' +
      esc(r[T.error]) + '">' + esc(r[T.error]) + '</div></td></tr>';
  }

  function sortRows(rows) {
    if (!state.sortKey) return rows;
    var k = T[state.sortKey], dir = state.sortDir, num = numeric[state.sortKey];
    return rows.sort(function (a, b) {
      var va = a[k], vb = b[k];
      if (va == null && vb == null) return 0;
      if (va == null) return 1;
      if (vb == null) return -1;
      if (num) return (va - vb) * dir;
      return (va < vb ? -1 : va > vb ? 1 : 0) * dir;
    });
  }

  function renderTables() {
    filtered = sortRows(D.tables.filter(matches));
    var pages = Math.max(1, Math.ceil(filtered.length / state.pageSize));
    state.page = Math.max(0, Math.min(state.page, pages - 1));
    var first = state.page * state.pageSize, shown = filtered.slice(first, first + state.pageSize);
    tbody.innerHTML = shown.map(cellsOf).join('');
    tbody.setAttribute('data-rows', String(filtered.length));
    tbody.setAttribute('data-shown', String(shown.length));
    counter.textContent = filtered.length + ' of ' + D.tables.length + ' tables match';
    pageInfo.textContent = filtered.length ? 'rows ' + (first + 1) + '\u2013' + (first + shown.length) + ' of ' +
      filtered.length + ' (page ' + (state.page + 1) + ' of ' + pages + ')' : 'no table matches';
    document.getElementById('page-first').disabled = document.getElementById('page-prev').disabled = state.page === 0;
    document.getElementById('page-next').disabled = document.getElementById('page-last').disabled = state.page >= pages - 1;
  }

  document.querySelectorAll('#tables-list th[data-key]').forEach(function (th) {
    th.classList.add('sortable');
    th.addEventListener('click', function () {
      var key = th.getAttribute('data-key');
      state.sortDir = state.sortKey === key ? -state.sortDir : 1;
      state.sortKey = key;
      state.page = 0;
      document.querySelectorAll('#tables-list th[data-key]').forEach(function (o) {
        o.textContent = o.getAttribute('data-label') + (o === th ? (state.sortDir > 0 ? ' \u25b2' : ' \u25bc') : '');
      });
      renderTables();
    });
  });
  function turn(to) {
    return function () {
      var pages = Math.max(1, Math.ceil(filtered.length / state.pageSize));
      state.page = to(state.page, pages);
      renderTables();
      document.getElementById('tables').scrollIntoView();
    };
  }
  document.getElementById('page-first').addEventListener('click', turn(function () { return 0; }));
  document.getElementById('page-prev').addEventListener('click', turn(function (p) { return p - 1; }));
  document.getElementById('page-next').addEventListener('click', turn(function (p) { return p + 1; }));
  document.getElementById('page-last').addEventListener('click', turn(function (p, n) { return n - 1; }));
  document.getElementById('page-size').addEventListener('change', function (ev) {
    state.pageSize = parseInt(ev.target.value, 10) || 100; state.page = 0; renderTables();
  });

  var schemaSelect = document.getElementById('filter-schema');
  var schemas = {};
  D.tables.forEach(function (r) { if (r[T.schema]) schemas[r[T.schema]] = 1; });
  Object.keys(schemas).sort().forEach(function (name) { schemaSelect.appendChild(new Option(name, name)); });

  function refilter() {
    state.text = document.getElementById('filter-text').value.trim();
    state.status = document.getElementById('filter-status').value;
    state.change = document.getElementById('filter-change').value;
    state.schema = schemaSelect.value;
    state.page = 0;
    renderTables(); timeline.refilter();
  }
  document.getElementById('filter-text').addEventListener('input', refilter);
  ['filter-status', 'filter-change', 'filter-schema'].forEach(function (id) {
    document.getElementById(id).addEventListener('change', refilter);
  });
"""

JS = ("(function () {" + JS_STATE + JS_TIMELINE + JS_LIST
      + "\n  timeline.refilter();\n  renderTables();\n  document.body.setAttribute('data-rendered', 'yes');\n})();\n")
