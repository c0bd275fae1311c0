// gameday charts and formatting shared by the scoreboard (app.js) and the report
// (report.js): team colours and dash patterns, H:MM:SS, sparklines on a canvas, and the
// uPlot score chart with event markers. Plain script: it defines window.GD (no modules,
// so that `gameday report` can inline it into a file that opens from disk).
'use strict';

(function () {
  const COLORS = ['#4e9bff', '#ff8a3d', '#3ddc84', '#ff5c8a', '#b78cff', '#ffd23d', '#3dd6e0',
    '#c0c45a', '#ff6b5c', '#8fa8c8'];
  // Two teams with the same line stay apart: each has its own dash and width, and the
  // later ones are drawn on top of the earlier, thinner and dashed.
  const DASHES = [[], [10, 6], [2, 5], [14, 4, 2, 4], [6, 3], [1, 3]];
  const WIDTHS = [4, 2.5, 2.5, 2, 2, 2];
  // Round game durations for the time axis' ticks (a minute and up).
  const TIME_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  const KIND_LABELS = { bill: 'bill', bills: 'bills', chaos: 'chaos', alarm: 'alarm',
    scaling: 'scaling', action: 'action', event: 'scenario' };

  function num(v, dflt) {
    return typeof v === 'number' && isFinite(v) ? v : dflt;
  }

  // Game seconds as H:MM:SS.
  function hms(sec) {
    sec = Math.max(0, Math.floor(num(sec, 0)));
    const h = Math.floor(sec / 3600), m = Math.floor(sec / 60) % 60, s = sec % 60;
    return h + ':' + String(m).padStart(2, '0') + ':' + String(s).padStart(2, '0');
  }

  function fixed(v, digits) {
    v = num(v, null);
    return v === null ? '–' : v.toLocaleString('en-US',
      { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function signed(v, digits) {
    v = num(v, 0);
    const s = fixed(Math.abs(v), digits);
    return (v > 0 ? '+' : v < 0 ? '−' : '±') + s;
  }

  function ms(v) {
    v = num(v, null);
    if (v === null) return '–';
    return v >= 10000 ? (v / 1000).toFixed(1) + ' s' : Math.round(v) + ' ms';
  }

  function teamIndex(team, index) {
    return num(team && team.id, index + 1) - 1;
  }

  function color(team, index) {
    const i = teamIndex(team, index);
    return COLORS[((i % COLORS.length) + COLORS.length) % COLORS.length];
  }

  function dash(team, index) {
    const i = teamIndex(team, index);
    return DASHES[((i % DASHES.length) + DASHES.length) % DASHES.length];
  }

  function width(team, index) {
    const i = teamIndex(team, index);
    return WIDTHS[((i % WIDTHS.length) + WIDTHS.length) % WIDTHS.length];
  }

  // An element with a class and text (textContent: server strings are never HTML).
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function cssVar(name, dflt) {
    const v = getComputedStyle(document.body).getPropertyValue(name).trim();
    return v || dflt;
  }

  // A sparkline of [t, revenue, cost, smooth] points on a canvas: cumulative revenue
  // (green) and cumulative cost (red) over the game so far, on one scale from 0.
  function sparkline(canvas, series, tmax) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(40, canvas.clientWidth), h = Math.max(16, canvas.clientHeight);
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const pts = (series || []).filter((p) => Array.isArray(p) && p.length >= 3);
    if (pts.length < 2) return;
    let ymin = 0, ymax = 1;
    tmax = Math.max(num(tmax, 0), num(pts[pts.length - 1][0], 0), 1);
    for (const p of pts) {
      ymin = Math.min(ymin, num(p[1], 0), num(p[2], 0));
      ymax = Math.max(ymax, num(p[1], 0), num(p[2], 0));
    }
    const X = (t) => 1 + (num(t, 0) / tmax) * (w - 2);
    const Y = (v) => h - 2 - ((num(v, 0) - ymin) / (ymax - ymin)) * (h - 4);
    if (ymin < 0) {
      ctx.strokeStyle = cssVar('--grid', '#253040');
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(0, Math.round(Y(0)) + 0.5);
      ctx.lineTo(w, Math.round(Y(0)) + 0.5);
      ctx.stroke();
    }
    const line = (k, stroke) => {
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 2;
      ctx.lineJoin = 'round';
      ctx.beginPath();
      pts.forEach((p, i) => (i ? ctx.lineTo(X(p[0]), Y(p[k])) : ctx.moveTo(X(p[0]), Y(p[k]))));
      ctx.stroke();
    };
    line(1, cssVar('--up', '#3ddc84'));
    line(2, cssVar('--down', '#ff5c6c'));
  }

  // Rows of every team's series on one x axis: [xs, team1 ys, team2 ys, ...] for uPlot;
  // col picks the value (3: smooth score). A team without a point at some x gets null.
  function align(teams, col) {
    const xs = new Set();
    for (const t of teams) for (const p of t.series || []) xs.add(num(p[0], 0));
    const x = Array.from(xs).sort((a, b) => a - b);
    const idx = new Map(x.map((v, i) => [v, i]));
    const out = [x];
    for (const t of teams) {
      const ys = new Array(x.length).fill(null);
      for (const p of t.series || []) ys[idx.get(num(p[0], 0))] = num(p[col], null);
      out.push(ys);
    }
    return out;
  }

  // Vertical marks at the events' game times (a uPlot plugin): [{time, kind, team}].
  function markersPlugin(getMarks) {
    return {
      hooks: {
        draw: [(u) => {
          const marks = getMarks() || [];
          const ctx = u.ctx;
          const top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
          ctx.save();
          for (const m of marks) {
            const x = u.valToPos(num(m.time, 0), 'x', true);
            if (!(x >= u.bbox.left && x <= u.bbox.left + u.bbox.width)) continue;
            ctx.strokeStyle = m.color || '#8b97a8';
            ctx.globalAlpha = 0.8;
            ctx.lineWidth = m.kind === 'action' ? 2 : 1;
            ctx.setLineDash(m.kind === 'action' ? [] : [3, 4]);
            ctx.beginPath();
            ctx.moveTo(Math.round(x) + 0.5, top);
            ctx.lineTo(Math.round(x) + 0.5, bottom);
            ctx.stroke();
            if (m.label) {
              ctx.setLineDash([]);
              ctx.globalAlpha = 1;
              ctx.fillStyle = m.color || '#8b97a8';
              ctx.font = Math.round(11 * devicePixelRatio) + 'px sans-serif';
              ctx.fillText(m.label, Math.round(x) + 4, top + 12 * devicePixelRatio);
            }
          }
          ctx.restore();
        }],
      },
    };
  }

  // A uPlot chart of the teams' series (col of each point) in box: it fills the box and
  // follows its size. Returns {update(teams), destroy()}.
  function teamChart(box, teams, opts) {
    opts = opts || {};
    const col = opts.col === undefined ? 3 : opts.col;
    let names = '', plot = null, current = teams;
    // The legend sits under the plot, inside the box.
    const legendHeight = () => {
      const l = plot && plot.root.querySelector('.u-legend');
      return l ? l.offsetHeight + 4 : 36;
    };
    const size = () => ({ width: Math.max(200, box.clientWidth),
      height: Math.max(opts.minHeight || 120, box.clientHeight - legendHeight()) });
    const build = () => {
      if (plot) plot.destroy();
      box.replaceChildren();
      const grid = cssVar('--grid', '#253040'), axis = cssVar('--muted', '#8b97a8');
      const series = [{ label: 'game time', value: (u, v) => (v === null ? '–' : hms(v)) }];
      current.forEach((t, i) => series.push({
        label: t.name || 'team-' + num(t.id, i + 1),
        stroke: color(t, i),
        width: width(t, i),
        dash: dash(t, i),
        spanGaps: true,
        points: { size: 7, width: 1.5, fill: color(t, i) },
        value: (u, v) => (v === null ? '–' : fixed(v, opts.digits === undefined ? 1 : opts.digits)),
      }));
      const o = Object.assign(size(), {
        class: 'gd-chart',
        scales: { x: { time: false } },
        axes: [
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid },
            incrs: TIME_STEPS, space: 70,
            values: (u, vals) => vals.map((v) => hms(v).replace(/:\d\d$/, '')) },
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 64,
            values: (u, vals) => vals.map((v) => fixed(v, 0)) },
        ],
        series,
        // the legend's marker of a team draws its line's style: solid, dashed or dotted
        legend: { show: true, live: true, markers: {
          width: (u, i) => (i ? Math.max(2, Math.round(width(current[i - 1], i - 1))) : 2),
          dash: (u, i) => {
            const d = i ? dash(current[i - 1], i - 1) : [];
            return !d.length ? 'solid' : d[0] <= 2 ? 'dotted' : 'dashed';
          },
        } },
        focus: { alpha: 0.35 },
        cursor: { focus: { prox: 24 } },
        plugins: opts.marks ? [markersPlugin(opts.marks)] : [],
      });
      plot = new uPlot(o, align(current, col), box);
      plot.setSize(size()); // now that the legend's height is known
      names = current.map((t) => t.name).join('\n');
    };
    const update = (next) => {
      current = next;
      if (!plot || next.map((t) => t.name).join('\n') !== names) build();
      else plot.setData(align(next, col));
    };
    // The chart follows its box (the box's size comes from the page's layout only: the
    // chart is absolutely placed inside it, so resizing it cannot feed back).
    let pending = 0;
    const onResize = () => {
      if (pending) return;
      pending = requestAnimationFrame(() => {
        pending = 0;
        if (!plot) return;
        const want = size();
        if (want.width !== plot.width || want.height !== plot.height) plot.setSize(want);
      });
    };
    const observer = typeof ResizeObserver === 'function' ? new ResizeObserver(onResize) : null;
    if (observer) observer.observe(box);
    else window.addEventListener('resize', onResize);
    update(teams);
    return {
      update,
      redraw: () => plot && plot.redraw(),
      destroy: () => {
        if (observer) observer.disconnect();
        else window.removeEventListener('resize', onResize);
        if (plot) plot.destroy();
      },
    };
  }

  window.GD = { COLORS, num, hms, fixed, signed, ms, color, dash, width, el, cssVar, sparkline,
    align, teamChart, KIND_LABELS };
})();
