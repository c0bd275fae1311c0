// gameday live scoreboard: polls the scoreboard API once a second and renders the game
// header, one card per team, a score-over-time chart (canvas) and recent score events.
'use strict';

(function () {
  const API = 'api/v1/scoreboard';
  const POLL_MS = 1000;
  const TIMEOUT_MS = 5000;
  const MAX_EVENTS = 30;
  const COLORS = ['#4e9bff', '#ff8a3d', '#3ddc84', '#ff5c8a', '#b78cff', '#ffd23d', '#3dd6e0',
    '#c0c45a', '#ff6b5c', '#8fa8c8'];

  const $ = (sel) => document.querySelector(sel);
  let last = null;         // the last scoreboard received, redrawn on resize
  let failures = 0;

  // ---- formatting ----

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

  function color(team, index) {
    const id = num(team.id, index + 1);
    return COLORS[(id - 1 + COLORS.length * 1000) % COLORS.length];
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- header and banners ----

  function renderGame(g) {
    const title = g.title || g.name || 'gameday';
    $('#title').textContent = title;
    document.title = title + ' · gameday scoreboard';
    $('#clock').textContent = hms(g.clock);
    $('#duration').textContent = hms(g.duration);
    $('#speed').textContent = '×' + num(g.speed, 1);
    const state = $('#state');
    state.textContent = g.state || 'unknown';
    state.className = 'pill state state-' + (g.state || 'unknown');
    const msg = $('#message');
    if (g.message) {
      $('#message-text').textContent = g.message;
      msg.hidden = false;
    } else {
      msg.hidden = true;
    }
  }

  function setStatus(text) {
    const s = $('#status');
    s.textContent = text || '';
    s.hidden = !text;
    document.body.classList.toggle('stale', !!text);
  }

  // ---- team cards ----

  const CARD_FIELDS = [
    ['rps', 'req/s'], ['p50', 'p50'], ['p99', 'p99'], ['errors', 'errors'],
    ['timeouts', 'timeouts'], ['wrong', 'wrong'], ['cost', 'spent'], ['instances', 'instances'],
  ];

  function makeCard(id) {
    const card = el('article', 'team');
    card.dataset.team = String(id);
    const head = el('div', 'team-head');
    head.append(el('span', 'rank'), el('span', 'swatch'), el('h3', 'name'));
    const score = el('div', 'score-line');
    score.append(el('span', 'score'), el('span', 'trend'));
    const stats = el('dl', 'stats');
    for (const [key, label] of CARD_FIELDS) {
      const d = el('div', 'stat stat-' + key);
      d.append(el('dt', '', label), el('dd', key));
      stats.append(d);
    }
    card.append(head, score, stats);
    return card;
  }

  function renderTeams(teams) {
    const box = $('#teams');
    const seen = new Set();
    const ranked = teams.map((t, i) => ({ t, i }))
      .sort((a, b) => num(b.t.score, 0) - num(a.t.score, 0) || num(a.t.id, 0) - num(b.t.id, 0));
    ranked.forEach(({ t, i }, rank) => {
      const id = String(num(t.id, i + 1));
      seen.add(id);
      let card = box.querySelector('.team[data-team="' + CSS.escape(id) + '"]');
      if (!card) card = makeCard(id);
      if (box.children[rank] !== card) box.insertBefore(card, box.children[rank] || null);
      const c = color(t, i);
      card.style.setProperty('--team', c);
      card.querySelector('.rank').textContent = '#' + (rank + 1);
      card.querySelector('.name').textContent = t.name || 'team-' + id;
      card.querySelector('.score').textContent = fixed(t.score, 1);
      const trend = num(t.trend, 0);
      const tr = card.querySelector('.trend');
      tr.textContent = (trend > 0 ? '▲ ' : trend < 0 ? '▼ ' : '▶ ') + signed(trend, 1) + '/min';
      tr.className = 'trend ' + (trend > 0 ? 'up' : trend < 0 ? 'down' : 'flat');
      tr.title = 'points over the last game minute';
      card.querySelector('.rps').textContent = fixed(t.rps, 1);
      card.querySelector('.p50').textContent = ms(t.p50_ms);
      card.querySelector('.p99').textContent = ms(t.p99_ms);
      setCount(card, 'errors', t.errors);
      setCount(card, 'timeouts', t.timeouts);
      setCount(card, 'wrong', t.wrong);
      card.querySelector('.cost').textContent = '$' + fixed(t.cost_usd, 2);
      card.querySelector('.instances').textContent = String(num(t.instances, 0));
    });
    for (const card of Array.from(box.children)) {
      if (!seen.has(card.dataset.team)) card.remove();
    }
  }

  function setCount(card, key, v) {
    const d = card.querySelector('.' + key);
    v = num(v, 0);
    d.textContent = v.toLocaleString('en-US');
    d.classList.toggle('bad', v > 0);
  }

  // ---- events table ----

  function renderEvents(teams) {
    const all = [];
    teams.forEach((t, i) => {
      for (const e of t.events || []) all.push({ e, t, i });
    });
    all.sort((a, b) => num(b.e.time, 0) - num(a.e.time, 0) || num(b.e.seq, 0) - num(a.e.seq, 0));
    const body = $('#events tbody');
    const frag = document.createDocumentFragment();
    for (const { e, t, i } of all.slice(0, MAX_EVENTS)) {
      const tr = el('tr');
      tr.dataset.team = String(num(t.id, i + 1));
      if (e.seq !== undefined) tr.dataset.seq = String(e.seq);
      const team = el('td', 'team-cell');
      const sw = el('span', 'swatch');
      sw.style.background = color(t, i);
      team.append(sw, document.createTextNode(t.name || 'team-' + t.id));
      const p = num(e.points, 0);
      tr.append(el('td', 'mono', hms(e.time)), team, el('td', 'source', e.source || ''),
        el('td', 'num mono ' + (p > 0 ? 'up' : p < 0 ? 'down' : 'flat'), signed(p, 1)),
        el('td', 'reason', e.reason || ''));
      frag.append(tr);
    }
    if (all.length === 0) {
      const tr = el('tr', 'empty');
      const td = el('td', '', 'no score events yet');
      td.colSpan = 5;
      tr.append(td);
      frag.append(tr);
    }
    body.replaceChildren(frag);
  }

  // ---- chart ----

  // A "nice" step (1, 2 or 5 times a power of ten) for about n ticks over range.
  function niceStep(range, n) {
    const raw = range / Math.max(1, n);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }

  // A time step in game seconds from a list of round durations.
  function timeStep(range, n) {
    const steps = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
    for (const s of steps) if (range / s <= n) return s;
    return steps[steps.length - 1] * Math.ceil(range / n / steps[steps.length - 1]);
  }

  function renderLegend(teams) {
    const ul = $('#legend');
    const frag = document.createDocumentFragment();
    teams.forEach((t, i) => {
      const li = el('li');
      li.dataset.team = String(num(t.id, i + 1));
      const sw = el('span', 'swatch');
      sw.style.background = color(t, i);
      li.append(sw, document.createTextNode(t.name || 'team-' + t.id));
      frag.append(li);
    });
    ul.replaceChildren(frag);
  }

  function renderChart(data) {
    const canvas = $('#chart');
    const wrap = $('#chart-wrap');
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(100, wrap.clientWidth), h = Math.max(80, wrap.clientHeight);
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);

    const teams = data.teams || [];
    const clock = num(data.game && data.game.clock, 0);
    let tmax = Math.max(60, clock), ymin = 0, ymax = 0;
    for (const t of teams) {
      for (const pt of t.history || []) {
        if (!Array.isArray(pt) || pt.length < 2) continue;
        tmax = Math.max(tmax, num(pt[0], 0));
        ymin = Math.min(ymin, num(pt[1], 0));
        ymax = Math.max(ymax, num(pt[1], 0));
      }
    }
    if (ymax - ymin < 10) ymax = ymin + 10;
    const ystep = niceStep(ymax - ymin, 5);
    ymin = Math.floor(ymin / ystep) * ystep;
    ymax = Math.ceil(ymax / ystep) * ystep;

    const css = getComputedStyle(document.body);
    const grid = css.getPropertyValue('--grid').trim() || '#2a3340';
    const axis = css.getPropertyValue('--muted').trim() || '#8b97a8';
    ctx.font = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';

    // Left margin wide enough for the longest y label.
    let labelw = 0;
    for (let y = ymin; y <= ymax + ystep / 2; y += ystep) {
      labelw = Math.max(labelw, ctx.measureText(fixed(y, 0)).width);
    }
    const L = Math.ceil(labelw) + 12, R = 12, T = 10, B = 22;
    const pw = w - L - R, ph = h - T - B;
    const X = (t) => L + (t / tmax) * pw;
    const Y = (v) => T + ph - ((v - ymin) / (ymax - ymin)) * ph;

    ctx.lineWidth = 1;
    ctx.strokeStyle = grid;
    ctx.fillStyle = axis;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let y = ymin; y <= ymax + ystep / 2; y += ystep) {
      const py = Math.round(Y(y)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(L, py);
      ctx.lineTo(w - R, py);
      ctx.stroke();
      ctx.fillText(fixed(y, 0), L - 6, py);
    }
    if (ymin < 0) { // the zero line stands out
      ctx.strokeStyle = axis;
      ctx.beginPath();
      ctx.moveTo(L, Math.round(Y(0)) + 0.5);
      ctx.lineTo(w - R, Math.round(Y(0)) + 0.5);
      ctx.stroke();
      ctx.strokeStyle = grid;
    }
    const tstep = timeStep(tmax, Math.max(2, Math.floor(pw / 90)));
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let t = 0; t <= tmax; t += tstep) {
      const px = Math.round(X(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(px, T);
      ctx.lineTo(px, T + ph);
      ctx.stroke();
      const label = hms(t).replace(/:\d\d$/, '');
      const half = ctx.measureText(label).width / 2;
      ctx.fillText(label, Math.min(px, w - 2 - half), T + ph + 6);
    }

    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    teams.forEach((t, i) => {
      const pts = (t.history || []).filter((p) => Array.isArray(p) && p.length >= 2);
      if (pts.length === 0) return;
      ctx.strokeStyle = color(t, i);
      ctx.beginPath();
      pts.forEach((p, k) => {
        const x = X(num(p[0], 0)), y = Y(num(p[1], 0));
        if (k === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
      const end = pts[pts.length - 1];
      ctx.fillStyle = color(t, i);
      ctx.beginPath();
      ctx.arc(X(num(end[0], 0)), Y(num(end[1], 0)), 3, 0, 2 * Math.PI);
      ctx.fill();
    });
  }

  // ---- polling ----

  function render(data) {
    const teams = Array.isArray(data.teams) ? data.teams : [];
    renderGame(data.game || {});
    renderTeams(teams);
    renderLegend(teams);
    renderEvents(teams);
    renderChart(data);
  }

  async function poll() {
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = ctl ? setTimeout(() => ctl.abort(), TIMEOUT_MS) : null;
    try {
      const res = await fetch(API, { cache: 'no-store', signal: ctl ? ctl.signal : undefined });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const data = await res.json();
      if (!data || typeof data !== 'object') throw new Error('bad JSON');
      last = data;
      failures = 0;
      setStatus('');
      render(data);
    } catch (err) {
      failures++;
      setStatus('server unreachable, retrying');
      $('#status').title = failures + ' failed attempt' + (failures > 1 ? 's' : '') + ': ' + err;
      if (!last) {
        const state = $('#state');
        state.textContent = 'offline';
        state.className = 'pill state state-offline';
      }
      if (window.console) console.debug('scoreboard poll failed:', err);
    } finally {
      if (timer) clearTimeout(timer);
      setTimeout(poll, POLL_MS);
    }
  }

  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (last) renderChart(last); }, 100);
  });

  poll();
})();
