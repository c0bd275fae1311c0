// The live architecture diagram: the team's resources as boxes in one column per type
// (the registry's order reversed, so traffic reads left to right: entry, load balancer,
// group, instances, templates, network), coloured by health, and links drawn from the
// registry's references between them (every ref/refs field of a spec, and an
// instance's group). A link that touches a resource with a RequestCount carries it.

const NS = 'http://www.w3.org/2000/svg';
const BOX_W = 170, BOX_H = 44, COL_GAP = 56, ROW_GAP = 14, PAD = 14, HEAD = 24;

function s(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = String(text);
  return e;
}

const OK = ['running', 'active', 'available', 'ok', 'in-service', 'inservice', 'healthy', 'completed', 'insync'];
const WARN = ['pending', 'booting', 'creating', 'modifying', 'insufficient_data', 'stopping', 'draining',
  'shutting-down', 'rebooting', 'failing-over', 'starting', 'initiating', 'deleting'];
const BAD = ['terminated', 'stopped', 'alarm', 'failed', 'unhealthy', 'error', 'impaired', 'down'];

// The health of a resource: 'ok', 'warn', 'bad' or 'none' (no state: a network, a template).
export function health(r, all) {
  const st = String((r.status && r.status.state) || '').toLowerCase();
  if (r.type === 'asg' && !st) {
    const want = Number((r.spec && r.spec.desired) || 0);
    const up = all.filter((i) => i.type === 'instance' && i.status && i.status.asg === r.name &&
      i.status.state === 'running').length;
    return up >= want ? 'ok' : up > 0 ? 'warn' : want ? 'bad' : 'ok';
  }
  if (!st) return 'none';
  if (OK.includes(st)) return 'ok';
  if (WARN.includes(st)) return 'warn';
  if (BAD.includes(st)) return 'bad';
  return 'none';
}

// The links of the architecture: [{from, to, field}] by resource name.
export function links(resources, types) {
  const byName = new Map(resources.map((r) => [r.name, r]));
  const out = [];
  for (const r of resources) {
    const t = types.get(r.type);
    if (!t) continue;
    for (const f of t.fields) {
      if (!f.ref) continue;
      const v = r.spec ? r.spec[f.name] : undefined;
      for (const n of Array.isArray(v) ? v : v ? [v] : [])
        if (byName.has(n) && n !== r.name) out.push({ from: r.name, to: n, field: f.name });
    }
    if (r.status && r.status.asg && byName.has(r.status.asg))
      out.push({ from: r.status.asg, to: r.name, field: 'member' });
  }
  return out;
}

function short(v) {
  return v >= 1000 ? (v / 1000).toFixed(1) + 'k' : String(Math.round(v * 10) / 10);
}

// Draws the diagram into el. resources: the team's live ones; types: Map name -> row;
// order: the registry's type names; latest: Map name -> {metric: value}.
export function draw(el, resources, types, order, latest) {
  const live = resources.filter((r) => !r.deleted && !(r.type === 'instance' && r.status && r.status.state === 'terminated'));
  const cols = order.slice().reverse().filter((t) => live.some((r) => r.type === t));
  // Columns that do not fit the panel's width wrap into a band below.
  const room = el.clientWidth || 1200;
  const per = Math.max(1, Math.min(cols.length, Math.floor((room - 2 * PAD + COL_GAP) / (BOX_W + COL_GAP))));
  const pos = new Map(), heads = [];
  let top = PAD, width = 300;
  for (let b = 0; b < cols.length; b += per) {
    let rows = 0;
    cols.slice(b, b + per).forEach((t, c) => {
      const x = PAD + c * (BOX_W + COL_GAP);
      heads.push({ t, x, y: top + 12 });
      const mine = live.filter((r) => r.type === t).sort((p, q) => p.name.localeCompare(q.name));
      mine.forEach((r, i) => pos.set(r.name, { x, y: top + HEAD + i * (BOX_H + ROW_GAP), band: b, r }));
      rows = Math.max(rows, mine.length);
      width = Math.max(width, x + BOX_W + PAD);
    });
    top += HEAD + rows * (BOX_H + ROW_GAP) + 16;
  }
  const height = Math.max(top, PAD * 2 + HEAD + BOX_H);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-label': 'architecture: ' + live.length + ' resources' });
  svg.classList.add('arch');
  for (const h of heads) svg.appendChild(s('text', { x: h.x + 2, y: h.y, class: 'col-head' }, h.t));
  const g = s('g', { class: 'links' });
  svg.appendChild(g);
  for (const l of links(live, types)) {
    const a = pos.get(l.from), b = pos.get(l.to);
    if (!a || !b) continue;
    const fwd = a.x <= b.x;
    const x1 = fwd ? a.x + BOX_W : a.x, x2 = fwd ? b.x : b.x + BOX_W;
    const y1 = a.y + BOX_H / 2, y2 = b.y + BOX_H / 2;
    const dx = Math.max(Math.abs(x2 - x1) / 2, 30) * (fwd ? 1 : -1);
    let d;
    if (a.band !== b.band) { // into another band: from the bottom of one to the top of the other
      const up = a.y > b.y;
      const ya = up ? a.y : a.y + BOX_H, yb = up ? b.y + BOX_H : b.y;
      d = `M${a.x + BOX_W / 2} ${ya} C${a.x + BOX_W / 2} ${(ya + yb) / 2} ${b.x + BOX_W / 2} ${(ya + yb) / 2} ${b.x + BOX_W / 2} ${yb}`;
    } else if (a.x === b.x) {
      d = `M${a.x + BOX_W} ${y1} C${a.x + BOX_W + 40} ${y1} ${b.x + BOX_W + 40} ${y2} ${b.x + BOX_W} ${y2}`;
    } else {
      d = `M${x1} ${y1} C${x1 + dx} ${y1} ${x2 - dx} ${y2} ${x2} ${y2}`;
    }
    // Traffic: the RequestCount of one end, when the other end has metrics too (a
    // group, an instance, a target group; not a subnet or a template).
    const m = latest.get(l.from) || {}, n = latest.get(l.to) || {};
    const both = Object.keys(m).length && Object.keys(n).length;
    const rc = !both ? undefined : typeof m.RequestCount === 'number' ? m.RequestCount : n.RequestCount;
    const p = s('path', { d, class: 'link' + (rc > 0 ? ' flow' : ''), 'data-from': l.from, 'data-to': l.to });
    p.appendChild(s('title', {}, l.from + ' → ' + l.to + ' (' + l.field + ')' + (rc !== undefined ? ', ' + short(rc) + ' requests a sample' : '')));
    if (rc > 0) p.setAttribute('stroke-width', String(Math.min(1.5 + Math.log2(1 + rc), 6)));
    g.appendChild(p);
    if (rc !== undefined)
      g.appendChild(s('text', { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, class: 'link-label' }, short(rc) + ' req'));
  }
  for (const [name, p] of pos) {
    const r = p.r, h = health(r, live);
    const box = s('g', { class: 'node ' + h, transform: `translate(${p.x},${p.y})`, 'data-name': name, tabindex: '0' });
    box.appendChild(s('rect', { width: BOX_W, height: BOX_H, rx: 6 }));
    box.appendChild(s('circle', { cx: 12, cy: 14, r: 4, class: 'dot' }));
    box.appendChild(s('text', { x: 22, y: 18, class: 'name' }, name.length > 19 ? name.slice(0, 18) + '…' : name));
    const st = (r.status && r.status.state) || '';
    const lm = latest.get(name) || {};
    let sub = st;
    if (typeof lm.CPUUtilization === 'number') sub += (sub ? ' · ' : '') + 'cpu ' + Math.round(lm.CPUUtilization) + '%';
    if (r.type === 'asg' && r.spec) sub = (sub ? sub + ' · ' : '') + 'desired ' + r.spec.desired + ' (' + r.spec.min + '..' + r.spec.max + ')';
    if (!sub && r.spec && r.spec.cidr) sub = r.spec.cidr;
    box.appendChild(s('text', { x: 12, y: 34, class: 'sub' }, sub || r.type));
    box.appendChild(s('title', {}, r.type + ' ' + name + (st ? ' (' + st + ')' : '')));
    svg.appendChild(box);
  }
  el.replaceChildren(svg);
  return svg;
}
