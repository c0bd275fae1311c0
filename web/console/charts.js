// CloudWatch-like charts of the team's metrics (uPlot, the global of /vendor/uplot.js):
// one chart per resource and metric, its raw series from GET /api/v1/metrics, and the
// thresholds of the team's alarms on that metric drawn as dashed lines.

function hm(sec) {
  sec = Math.max(0, Math.floor(sec));
  const h = Math.floor(sec / 3600), m = Math.floor(sec / 60) % 60, s = sec % 60;
  return h + ':' + String(m).padStart(2, '0') + (h ? '' : ':' + String(s).padStart(2, '0'));
}

// The alarms of resources (the alarm rows) that watch metric of resource `res` (a
// resource object): [{name, threshold, state}].
export function thresholds(alarms, res, metric) {
  return alarms
    .filter((a) => a.spec && a.spec.metric === metric && (a.spec.resource === res.name || a.spec.resource === res.id))
    .map((a) => ({ name: a.name, threshold: Number(a.spec.threshold), state: (a.status && a.status.state) || '' }));
}

const COLORS = ['#4e9bff', '#3ddc84', '#ffb547', '#b78cff', '#ff8a3d', '#3dd6e0'];

// A chart in el; returns {update(series, lines), destroy()}. series: [[t, v], ...].
export function chart(el, title, index) {
  let lines = [];
  const color = COLORS[index % COLORS.length];
  const opts = {
    width: Math.max(el.clientWidth || 400, 200),
    height: 190,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: false },
      y: {
        range: (u, lo, hi) => {
          for (const l of lines) {
            lo = Math.min(lo, l.threshold);
            hi = Math.max(hi, l.threshold);
          }
          if (!isFinite(lo) || !isFinite(hi)) return [0, 1];
          if (lo === hi) return [lo - 1, hi + 1];
          const pad = (hi - lo) * 0.1;
          // A series of positive values near zero (a percentage, a count) starts at 0.
          return [lo >= 0 && lo - pad < hi / 2 ? 0 : lo - pad, hi + pad];
        },
      },
    },
    axes: [
      { stroke: '#8b97a8', grid: { stroke: '#253040' }, ticks: { stroke: '#253040' }, values: (u, vs) => vs.map(hm) },
      { stroke: '#8b97a8', grid: { stroke: '#253040' }, ticks: { stroke: '#253040' }, size: 50 },
    ],
    series: [{}, { label: title, stroke: color, width: 2, fill: color + '22', points: { show: false } }],
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          for (const l of lines) {
            const y = u.valToPos(l.threshold, 'y', true);
            ctx.save();
            ctx.strokeStyle = l.state === 'ALARM' ? '#ff5c6c' : '#ffb547';
            ctx.setLineDash([6, 4]);
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
            ctx.fillStyle = ctx.strokeStyle;
            ctx.textAlign = 'left';
            ctx.textBaseline = 'bottom';
            ctx.font = 11 * devicePixelRatio + 'px system-ui, sans-serif';
            ctx.fillText(l.name + ' ' + l.threshold, u.bbox.left + 6 * devicePixelRatio, y - 4 * devicePixelRatio);
            ctx.restore();
          }
        },
      ],
    },
  };
  const plot = new uPlot(opts, [[], []], el);
  const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 200), height: 190 }));
  ro.observe(el);
  return {
    update(series, ls) {
      lines = ls || [];
      const xs = [], ys = [];
      for (const p of series || []) {
        xs.push(p[0]);
        ys.push(p[1]);
      }
      plot.setData([xs, ys]);
    },
    destroy() {
      ro.disconnect();
      plot.destroy();
    },
    plot,
  };
}
