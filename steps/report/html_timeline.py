"""The timeline part of report.html's script: a canvas that paints only the lanes in view (virtual scrolling).

Lanes: the steps, then the tables that started, by start time or in groups (planned size class, fan-out batch,
schema). A group's
lane shows how many of its tables ran at each moment; a click opens or closes it. Many tables are grouped by
default, so a 5,000-table run opens as a handful of lanes.
"""

JS_TIMELINE = r"""
  // ---------------------------------------------------------------- timeline (Gantt), virtual scrolling canvas
  var timeline = (function () {
    var COLORS = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#72b7b2', '#eeca3b', '#9d755d', '#ff9da6', '#79706e'];
    var FAILED = '#d62728', GROUP = '#6b7a99';
    var SIZES = [[1024, '\u2265 1 GB'], [100, '100 MB \u2013 1 GB'], [10, '10 \u2013 100 MB'], [1, '1 \u2013 10 MB'],
                 [0, '< 1 MB']];
    var GROUP_ABOVE = 300;  // more timed tables than this: grouped by size when the page opens
    var wrap = document.getElementById('gantt-wrap');
    var canvas = document.getElementById('gantt');
    var spacer = document.getElementById('gantt-spacer');
    var tip = document.getElementById('gantt-tip');
    var groupBy = document.getElementById('group-by');
    var AXIS = 22, GUTTER = 240;
    var lanes = [], opened = {}, rowH = 16, span = Math.max(1, D.span);

    function sizeClass(r) {
      var mb = r[T.sizeMb] != null ? r[T.sizeMb] : (r[T.bytes] != null ? r[T.bytes] / 1e6 : null);
      if (mb == null) return [SIZES.length, 'size unknown'];
      for (var i = 0; i < SIZES.length; i++) if (mb >= SIZES[i][0]) return [i, SIZES[i][1]];
      return [SIZES.length - 1, SIZES[SIZES.length - 1][1]];
    }
    function groupOf(r) {  // [sort key, label]
      if (groupBy.value === 'size') return sizeClass(r);
      if (groupBy.value === 'batch') return r[T.batch] ? [r[T.batch], r[T.batch]] : ['', 'moved alone'];
      return [r[T.schema], 'schema ' + r[T.schema]];
    }
    function byStart(a, b) { return a[T.start] - b[T.start] || (a[T.table] < b[T.table] ? -1 : 1); }

    function tableLane(r) {
      return {label: r[T.table], status: r[T.status], start: r[T.start], end: r[T.end], bars: r[T.phases], row: r};
    }

    function build() {
      lanes = D.steps.map(function (s) {
        return {label: s[0], status: s[1], start: s[2], end: s[3], bars: s[4], isStep: true};
      });
      var tables = D.tables.filter(function (r) { return r[T.start] != null && matches(r); }).sort(byStart);
      var groups = {}, keys = [];
      if (groupBy.value === 'none') {
        tables.forEach(function (r) { lanes.push(tableLane(r)); });
      } else {
        tables.forEach(function (r) {
          var g = groupOf(r), key = String(g[0]);
          if (!groups[key]) { groups[key] = {sort: g[0], label: g[1], members: []}; keys.push(key); }
          groups[key].members.push(r);
        });
        keys.sort(function (a, b) {
          return groups[a].sort < groups[b].sort ? -1 : groups[a].sort > groups[b].sort ? 1 : 0;
        });
        keys.forEach(function (key) {
          var g = groups[key], failed = 0, start = Infinity, end = -Infinity;
          g.members.forEach(function (r) {
            if (r[T.status] === 'failed') failed++;
            start = Math.min(start, r[T.start]); end = Math.max(end, r[T.end] == null ? r[T.start] : r[T.end]);
          });
          lanes.push({label: (opened[key] ? '\u25be ' : '\u25b8 ') + g.label + ' \u00b7 ' + g.members.length +
                      (failed ? ' (' + failed + ' failed)' : ''), status: failed ? 'failed' : 'succeeded',
                      start: start, end: end, group: key, members: g.members, failed: failed});
          if (opened[key]) g.members.forEach(function (r) { lanes.push(tableLane(r)); });
        });
      }
      rowH = lanes.length > 1200 ? 4 : lanes.length > 300 ? 8 : lanes.length > 60 ? 12 : 18;
      wrap.style.height = Math.max(80, Math.min(480, AXIS + lanes.length * rowH + 4)) + 'px';
      spacer.style.height = Math.max(0, AXIS + lanes.length * rowH - wrap.clientHeight) + 'px';
      canvas.setAttribute('data-groups', String(keys.length));
    }

    function drawGroup(ctx, lane, y, x, plotW) {  // how many of the group's tables ran at each pixel column
      var counts = new Float64Array(Math.ceil(plotW) + 2), peak = 0;
      lane.members.forEach(function (r) {
        var a = Math.max(0, Math.floor(x(r[T.start]) - GUTTER));
        var b = Math.max(a + 1, Math.ceil(x(r[T.end] == null ? r[T.start] : r[T.end]) - GUTTER));
        counts[Math.min(a, counts.length - 1)] += 1; counts[Math.min(b, counts.length - 1)] -= 1;
      });
      for (var c = 1; c < counts.length; c++) counts[c] += counts[c - 1];
      for (c = 0; c < counts.length; c++) peak = Math.max(peak, counts[c]);
      ctx.fillStyle = GROUP;
      for (c = 0; c < plotW; c++) {
        if (!counts[c]) continue;
        var h = Math.max(1, (rowH - 2) * counts[c] / peak);
        ctx.fillRect(GUTTER + c, y + rowH - 1 - h, 1, h);
      }
      ctx.fillStyle = FAILED;
      lane.members.forEach(function (r) {
        if (r[T.status] === 'failed' && r[T.end] != null) ctx.fillRect(x(r[T.end]) - 1, y, 2, rowH);
      });
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
        if (lane.group != null) { ctx.fillStyle = '#eef0f7'; ctx.fillRect(0, y, width, rowH); }
        else if (i % 2) { ctx.fillStyle = '#f7f8fc'; ctx.fillRect(0, y, width, rowH); }
        if (rowH >= 12 || lane.group != null) {
          ctx.fillStyle = lane.status === 'failed' ? FAILED : (lane.isStep || lane.group != null ? '#1d2330' : '#334');
          ctx.font = (lane.group != null ? 'bold ' : '') + '11px system-ui, sans-serif';
          ctx.fillText((lane.isStep ? '\u25b8 ' : lane.row && groupBy.value !== 'none' ? '   ' : '') + lane.label,
                       4, y + rowH / 2, GUTTER - 8);
        }
        if (lane.group != null) { drawGroup(ctx, lane, y, x, plotW); continue; }
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
      ctx.fillStyle = '#556'; ctx.strokeStyle = '#ccd'; ctx.font = '11px system-ui, sans-serif';
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
      var ratio = window.devicePixelRatio || 1;
      var data = ctx.getImageData(GUTTER * ratio, AXIS * ratio, Math.max(1, w - GUTTER * ratio),
                                  Math.max(1, h - AXIS * ratio)).data;
      var n = 0;
      for (var p = 0; p < data.length; p += 4) {
        var r = data[p], g = data[p + 1], bl = data[p + 2];
        if (Math.abs(r - g) > 40 || Math.abs(g - bl) > 40 || Math.abs(r - bl) > 40) n++;
      }
      return n;
    }

    function laneAt(clientY) {
      var y = clientY - canvas.getBoundingClientRect().top - AXIS;
      return y < 0 ? null : lanes[Math.floor(wrap.scrollTop / rowH) + Math.floor(y / rowH)] || null;
    }

    function describe(lane) {
      var lines = [lane.label + '  [' + lane.status + ']', ts(lane.start) + ' \u2192 ' + ts(lane.end) +
                   '  (' + secs(lane.end - lane.start) + ')'];
      if (lane.group != null) {
        lines.push(lane.members.length + ' tables, ' + lane.failed + ' failed; click to ' +
                   (opened[lane.group] ? 'close' : 'open'));
        return lines;
      }
      if (lane.row && lane.row[T.batch]) lines.push('moved in ' + lane.row[T.batch]);
      var bars = lane.bars || [];
      for (var b = 0; b + 3 < bars.length; b += 4) {
        lines.push('  ' + D.phases[bars[b]] + ': ' + secs(bars[b + 2]) + (bars[b + 3] ? '  FAILED' : ''));
      }
      if (lane.row && lane.row[T.error]) lines.push(lane.row[T.error]);
      return lines;
    }

    canvas.addEventListener('mousemove', function (ev) {
      var lane = laneAt(ev.clientY);
      if (!lane) { tip.style.display = 'none'; return; }
      tip.textContent = describe(lane).join('\n');
      tip.style.display = 'block';
      tip.style.left = Math.max(0, Math.min(ev.clientX + 14, window.innerWidth - 470)) + 'px';
      tip.style.top = (ev.clientY + 14) + 'px';
    });
    canvas.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
    canvas.addEventListener('click', function (ev) {
      var lane = laneAt(ev.clientY);
      if (!lane || lane.group == null) return;
      opened[lane.group] = !opened[lane.group];
      build(); draw();
    });
    wrap.addEventListener('scroll', function () { window.requestAnimationFrame(draw); });
    window.addEventListener('resize', function () { build(); draw(); });
    groupBy.addEventListener('change', function () { opened = {}; refilter(); });
    function openAll(open) {
      return function () {
        opened = {};
        if (open) lanes.forEach(function (lane) { if (lane.group != null) opened[lane.group] = true; });
        build(); draw();
      };
    }
    document.getElementById('group-open').addEventListener('click', openAll(true));
    document.getElementById('group-close').addEventListener('click', openAll(false));

    document.getElementById('gantt-legend').innerHTML = D.phases.map(function (name, i) {
      return '<span><i style="background:' + COLORS[i % COLORS.length] + '"></i>' + esc(name) + '</span>';
    }).join('') + '<span><i style="background:' + FAILED + '"></i>failed phase / end of a failed table</span>' +
      '<span><i style="background:' + GROUP + '"></i>tables of a group running at once</span>';
    var timed = D.tables.filter(function (r) { return r[T.start] != null; }).length;
    groupBy.value = timed > GROUP_ABOVE ? 'size' : 'none';

    function refilter() { build(); wrap.scrollTop = 0; draw(); }
    return {refilter: refilter};
  })();
"""
