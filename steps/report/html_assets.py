"""The stylesheet and script inlined into report.html (kept as Python strings so every install carries them)."""

CSS = """
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1400px;padding:0 16px 48px;color:#1d2330}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600;margin:6px 0}
.ok{background:#dcf5e3;color:#14532d}.bad{background:#fde2e1;color:#7f1d1d}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}.card{border:1px solid #dde;border-radius:6px;padding:6px 12px;min-width:110px}
.card b{display:block;font-size:18px}.card span{color:#556;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eef;vertical-align:top}
th{background:#f4f5fa;position:sticky;top:0;cursor:default}th.sortable{cursor:pointer}th.sortable:hover{background:#e6e8f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.err{color:#8a1c1c;max-width:520px;word-break:break-word}
.s-succeeded{color:#166534}.s-failed{color:#b91c1c;font-weight:600}.s-skipped{color:#92400e}.s-not_run{color:#6b21a8;font-weight:600}
#gantt-wrap{position:relative;height:480px;overflow-y:auto;border:1px solid #dde;border-radius:6px}
#gantt{position:sticky;top:0;display:block}
#gantt-tip{position:fixed;pointer-events:none;background:#1d2330;color:#fff;padding:6px 8px;border-radius:4px;font-size:12px;display:none;max-width:460px;z-index:10;white-space:pre-wrap}
.legend{display:flex;flex-wrap:wrap;gap:10px;font-size:12px;margin:6px 0}.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
.controls{display:flex;gap:8px;align-items:center;margin:6px 0}.controls input{width:320px;padding:4px}
.scroll{max-height:560px;overflow:auto;border:1px solid #dde;border-radius:6px}
.muted{color:#667}code{font-size:12px}
"""

JS = r"""
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var COLORS = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#72b7b2', '#eeca3b', '#9d755d', '#ff9da6', '#79706e'];
  var FAILED = '#d62728';
  // table row fields (see report/html.py DATA_FIELDS)
  var T = {table: 0, target: 1, status: 2, start: 3, end: 4, duration: 5, rowsSource: 6, rowsLoaded: 7,
           bytes: 8, attempts: 9, error: 10, phases: 11};
  var state = {text: '', status: '', sortKey: null, sortDir: 1};

  function esc(v) {
    return String(v == null ? '' : v).replace(/[&<>"]/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c];
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
  function matches(row) {
    if (state.status && row[T.status] !== state.status) return false;
    if (!state.text) return true;
    var needle = state.text.toLowerCase();
    return (row[T.table] + ' ' + row[T.target] + ' ' + row[T.error]).toLowerCase().indexOf(needle) >= 0;
  }

  // ---------------------------------------------------------------- timeline (Gantt), virtual scrolling canvas
  var wrap = document.getElementById('gantt-wrap');
  var canvas = document.getElementById('gantt');
  var spacer = document.getElementById('gantt-spacer');
  var tip = document.getElementById('gantt-tip');
  var AXIS = 22, GUTTER = 240;
  var lanes = [];  // steps first, then tables by start time
  var rowH = 16, span = 1;

  function buildLanes() {
    lanes = [];
    D.steps.forEach(function (s) {
      lanes.push({label: s[0], status: s[1], start: s[2], end: s[3], bars: s[4], isStep: true, row: null});
    });
    var tables = D.tables.filter(function (r) { return r[T.start] != null && matches(r); });
    tables.sort(function (a, b) { return a[T.start] - b[T.start] || (a[T.table] < b[T.table] ? -1 : 1); });
    tables.forEach(function (r) {
      lanes.push({label: r[T.table], status: r[T.status], start: r[T.start], end: r[T.end], bars: r[T.phases],
                  isStep: false, row: r});
    });
    span = Math.max(1, D.span);
    rowH = lanes.length > 1200 ? 4 : lanes.length > 300 ? 8 : lanes.length > 60 ? 12 : 18;
    wrap.style.height = Math.max(80, Math.min(480, AXIS + lanes.length * rowH + 4)) + 'px';
    spacer.style.height = Math.max(0, AXIS + lanes.length * rowH - wrap.clientHeight) + 'px';
  }

  function draw() {
    var ratio = window.devicePixelRatio || 1;
    var width = wrap.clientWidth, height = wrap.clientHeight;
    if (canvas.width !== width * ratio || canvas.height !== height * ratio) {
      canvas.width = width * ratio; canvas.height = height * ratio;
      canvas.style.width = width + 'px'; canvas.style.height = height + 'px';
    }
    var ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, width, height);
    var plotW = Math.max(50, width - GUTTER - 8);
    var x = function (off) { return GUTTER + (off / span) * plotW; };
    var first = Math.floor(wrap.scrollTop / rowH);
    var visible = Math.ceil((height - AXIS) / rowH) + 1;
    var drawn = 0;
    ctx.font = '11px system-ui, sans-serif'; ctx.textBaseline = 'middle';
    for (var i = first; i < Math.min(lanes.length, first + visible); i++) {
      var lane = lanes[i], y = AXIS + (i - first) * rowH;
      if (i % 2) { ctx.fillStyle = '#f7f8fc'; ctx.fillRect(0, y, width, rowH); }
      if (rowH >= 12) {
        ctx.fillStyle = lane.status === 'failed' ? FAILED : (lane.isStep ? '#1d2330' : '#334');
        ctx.fillText((lane.isStep ? '\u25b8 ' : '') + lane.label, 4, y + rowH / 2, GUTTER - 8);
      }
      var pad = rowH >= 8 ? 2 : 0.5;
      if (lane.start != null && lane.end != null) {  // the whole span, faint, so gaps between phases show
        var bare = !lane.bars || !lane.bars.length;  // a step without phases: its span is all there is
        ctx.fillStyle = lane.status === 'failed' ? (bare ? FAILED : '#f8c9c8') : (bare ? '#9aa3b8' : '#e3e6ef');
        ctx.fillRect(x(lane.start), y + pad, Math.max(1, x(lane.end) - x(lane.start)), rowH - 2 * pad);
      }
      var bars = lane.bars || [];
      for (var b = 0; b + 3 < bars.length; b += 4) {
        ctx.fillStyle = bars[b + 3] ? FAILED : COLORS[bars[b] % COLORS.length];
        ctx.fillRect(x(bars[b + 1]), y + pad, Math.max(1, (bars[b + 2] / span) * plotW), rowH - 2 * pad);
        drawn++;
      }
      if (lane.status === 'failed' && lane.end != null) {
        ctx.fillStyle = FAILED; ctx.fillRect(x(lane.end) - 1, y, 3, rowH);
      }
    }
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, width, AXIS);
    ctx.fillStyle = '#556'; ctx.strokeStyle = '#ccd';
    for (var t = 0; t <= 10; t++) {
      var off = span * t / 10, tx = x(off);
      ctx.beginPath(); ctx.moveTo(tx, AXIS - 4); ctx.lineTo(tx, height); ctx.globalAlpha = 0.35; ctx.stroke();
      ctx.globalAlpha = 1;
      ctx.fillText(t === 0 ? ts(0).slice(11, 19) + ' UTC' : '+' + secs(off), tx + 2, AXIS / 2);
    }
    canvas.setAttribute('data-lanes', String(lanes.length));
    canvas.setAttribute('data-drawn-bars', String(drawn));
    canvas.setAttribute('data-painted-pixels', String(paintedPixels(ctx, width * ratio, height * ratio)));
  }

  function paintedPixels(ctx, w, h) {  // how much of the plot is not background: a check a test can read
    var data = ctx.getImageData(GUTTER * (window.devicePixelRatio || 1), AXIS, Math.max(1, w - GUTTER), Math.max(1, h - AXIS)).data;
    var n = 0;
    for (var p = 0; p < data.length; p += 4) {
      var r = data[p], g = data[p + 1], bl = data[p + 2];
      if (Math.abs(r - g) > 40 || Math.abs(g - bl) > 40 || Math.abs(r - bl) > 40) n++;
    }
    return n;
  }

  function laneAt(clientY) {
    var rect = canvas.getBoundingClientRect();
    var y = clientY - rect.top - AXIS;
    if (y < 0) return null;
    return lanes[Math.floor(wrap.scrollTop / rowH) + Math.floor(y / rowH)] || null;
  }

  canvas.addEventListener('mousemove', function (ev) {
    var lane = laneAt(ev.clientY);
    if (!lane) { tip.style.display = 'none'; return; }
    var lines = [lane.label + '  [' + lane.status + ']', ts(lane.start) + ' \u2192 ' + ts(lane.end) +
                 '  (' + secs(lane.end - lane.start) + ')'];
    var bars = lane.bars || [];
    for (var b = 0; b + 3 < bars.length; b += 4) {
      lines.push('  ' + D.phases[bars[b]] + ': ' + secs(bars[b + 2]) + (bars[b + 3] ? '  FAILED' : ''));
    }
    if (lane.row && lane.row[T.error]) lines.push(lane.row[T.error]);
    tip.textContent = lines.join('\n');
    tip.style.display = 'block';
    tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 470) + 'px';
    tip.style.top = (ev.clientY + 14) + 'px';
  });
  canvas.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  wrap.addEventListener('scroll', function () { window.requestAnimationFrame(draw); });
  window.addEventListener('resize', function () { buildLanes(); draw(); });

  var legend = document.getElementById('gantt-legend');
  legend.innerHTML = D.phases.map(function (name, i) {
    return '<span><i style="background:' + COLORS[i % COLORS.length] + '"></i>' + esc(name) + '</span>';
  }).join('') + '<span><i style="background:' + FAILED + '"></i>failed phase / end of a failed table</span>';

  // ---------------------------------------------------------------- tables list: filter and sort
  var tbody = document.getElementById('tables-body');
  var counter = document.getElementById('tables-count');
  var numeric = {duration: 1, rowsSource: 1, rowsLoaded: 1, bytes: 1, attempts: 1, start: 1, end: 1};

  function renderTables() {
    var rows = D.tables.filter(matches);
    if (state.sortKey) {
      var k = T[state.sortKey], dir = state.sortDir, num = numeric[state.sortKey];
      rows.sort(function (a, b) {
        var va = a[k], vb = b[k];
        if (va == null && vb == null) return 0;
        if (va == null) return 1;
        if (vb == null) return -1;
        if (num) return (va - vb) * dir;
        return (va < vb ? -1 : va > vb ? 1 : 0) * dir;
      });
    }
    var html = [];
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      html.push('<tr><td>' + esc(r[T.table]) + '</td><td>' + esc(r[T.target]) + '</td><td class="s-' + r[T.status] +
        '">' + r[T.status] + '</td><td>' + ts(r[T.start]) + '</td><td>' + ts(r[T.end]) + '</td><td class="num">' +
        (r[T.duration] == null ? '' : r[T.duration].toFixed(3)) + '</td><td class="num">' + esc(r[T.rowsSource]) +
        '</td><td class="num">' + esc(r[T.rowsLoaded]) + '</td><td class="num">' + esc(r[T.bytes]) +
        '</td><td class="num">' + esc(r[T.attempts]) + '</td><td class="err">' + esc(r[T.error]) + '</td></tr>');
    }
    tbody.innerHTML = html.join('');
    tbody.setAttribute('data-rows', String(rows.length));
    counter.textContent = 'showing ' + rows.length + ' of ' + D.tables.length + ' tables';
  }

  document.querySelectorAll('#tables-list th[data-key]').forEach(function (th) {
    th.classList.add('sortable');
    th.addEventListener('click', function () {
      var key = th.getAttribute('data-key');
      state.sortDir = state.sortKey === key ? -state.sortDir : 1;
      state.sortKey = key;
      document.querySelectorAll('#tables-list th[data-key]').forEach(function (o) {
        o.textContent = o.getAttribute('data-label') + (o === th ? (state.sortDir > 0 ? ' \u25b2' : ' \u25bc') : '');
      });
      renderTables();
    });
  });
  function refilter() {
    state.text = document.getElementById('filter-text').value.trim();
    state.status = document.getElementById('filter-status').value;
    renderTables(); buildLanes(); wrap.scrollTop = 0; draw();
  }
  document.getElementById('filter-text').addEventListener('input', refilter);
  document.getElementById('filter-status').addEventListener('change', refilter);

  buildLanes();
  draw();
  renderTables();
  document.body.setAttribute('data-rendered', 'yes');
})();
"""
