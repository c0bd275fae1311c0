// gameday live scoreboard: the scoreboard JSON arrives over server-sent events
// (/api/v1/stream, event `scoreboard`); when the stream fails the page polls
// /api/v1/scoreboard every second and tries the stream again later. It renders the game
// header (clock, phase, state), one card per team with a revenue/cost sparkline, the
// score chart (uPlot, bills spread over the minutes they cover) and the events that
// matter. window.gameday lets other scripts (instructor.js) follow the frames.
'use strict';

(function () {
  const STREAM = 'api/v1/stream';
  const API = 'api/v1/scoreboard';
  const POLL_MS = 1000;
  const TIMEOUT_MS = 5000;
  const STALE_MS = 25000;      // no frame nor ping that long on the stream: poll instead
  const RETRY_STREAM_MS = 15000;
  const MAX_EVENTS = 40;
  const { num, hms, fixed, signed, ms, color, el } = window.GD;

  const $ = (sel) => document.querySelector(sel);
  let last = null;           // the last scoreboard received
  let failures = 0;
  let frames = 0;            // scoreboard frames received over the stream
  let polls = 0;             // scoreboards received by polling
  let source = null;         // the EventSource, while streaming
  let lastFrameAt = 0;
  let pollTimer = null;
  let chart = null;
  const listeners = [];

  // ---- header and banners ----

  function renderGame(g) {
    const title = g.title || g.name || 'gameday';
    $('#title').textContent = title;
    document.title = title + ' · gameday scoreboard';
    $('#clock').textContent = hms(g.clock);
    $('#duration').textContent = hms(g.duration);
    $('#speed').textContent = '×' + num(g.speed, 1);
    const stateName = String(g.state || 'unknown');
    const state = $('#state');
    state.textContent = stateName === 'paused' ? '❚❚ paused' : stateName;
    state.className = 'pill state state-' + stateName.replace(/[^a-z-]/g, '');
    document.body.classList.toggle('paused', stateName === 'paused');
    document.body.classList.toggle('over', stateName === 'ended');
    document.body.dataset.state = stateName;
    const phase = g.phase || {};
    const ph = $('#phase');
    let label = phase.label || '';
    if (phase.next_event_at !== undefined) label += ' · next event ' + hms(phase.next_event_at);
    ph.textContent = label;
    ph.hidden = !label;
    const msg = $('#message');
    if (g.message) {
      $('#message-text').textContent = g.message;
      msg.hidden = false;
    } else {
      msg.hidden = true;
    }
    $('#report-link').hidden = !(stateName === 'ended' || stateName === 'ending');
  }

  function setStatus(text, title) {
    const s = $('#status');
    s.textContent = text || '';
    s.title = title || '';
    s.hidden = !text;
    document.body.classList.toggle('stale', !!text);
  }

  function setTransport(kind) {
    document.body.dataset.transport = kind;
    const t = $('#transport');
    t.textContent = kind === 'stream' ? '● live' : kind === 'poll' ? '○ polling' : kind;
    t.className = 'pill transport transport-' + kind;
    t.title = kind === 'stream' ? 'updates pushed by the server (server-sent events)'
      : 'the stream is not available: asking the server every second';
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
    const spark = el('div', 'spark');
    const canvas = el('canvas', 'sparkline');
    canvas.setAttribute('role', 'img');
    const key = el('div', 'spark-key');
    key.append(el('span', 'up', 'revenue'), el('span', 'down', 'cost'));
    spark.append(canvas, key);
    const stats = el('dl', 'stats');
    for (const [k, label] of CARD_FIELDS) {
      const d = el('div', 'stat stat-' + k);
      d.append(el('dt', '', label), el('dd', k));
      stats.append(d);
    }
    card.append(head, score, spark, stats);
    return card;
  }

  function renderTeams(teams, clock) {
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
      card.style.setProperty('--team', color(t, i));
      card.dataset.rank = String(rank + 1);
      card.querySelector('.rank').textContent = '#' + (rank + 1);
      card.querySelector('.name').textContent = t.name || 'team-' + id;
      card.querySelector('.score').textContent = fixed(t.score, 1);
      const trend = num(t.trend, 0);
      const tr = card.querySelector('.trend');
      tr.textContent = (trend > 0 ? '▲ ' : trend < 0 ? '▼ ' : '▶ ') + signed(trend, 1) + '/min';
      tr.className = 'trend ' + (trend > 0 ? 'up' : trend < 0 ? 'down' : 'flat');
      tr.title = 'points over the last game minute';
      const s = t.series || [];
      const end = s.length ? s[s.length - 1] : null;
      const canvas = card.querySelector('.sparkline');
      canvas.setAttribute('aria-label', end ? 'revenue ' + fixed(end[1], 0) + ', cost ' +
        fixed(end[2], 0) + ' points' : 'no data yet');
      canvas.title = canvas.getAttribute('aria-label');
      GD.sparkline(canvas, s, clock);
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

  // ---- events ----

  function renderEvents(teams) {
    const all = [];
    teams.forEach((t, i) => {
      for (const e of t.events || []) all.push({ e, t, i });
    });
    all.sort((a, b) => num(b.e.time, 0) - num(a.e.time, 0) || num(b.e.seq, 0) - num(a.e.seq, 0));
    const body = $('#events tbody');
    const frag = document.createDocumentFragment();
    for (const { e, t, i } of all.slice(0, MAX_EVENTS)) {
      const tr = el('tr', 'kind-' + String(e.kind || 'event').replace(/[^a-z]/g, ''));
      tr.dataset.team = String(num(t.id, i + 1));
      tr.dataset.kind = String(e.kind || 'event');
      if (e.seq !== undefined) tr.dataset.seq = String(e.seq);
      const when = e.from !== undefined && num(e.from, 0) < num(e.time, 0)
        ? hms(e.from).replace(/:\d\d$/, '') + '–' + hms(e.time).replace(/:\d\d$/, '')
        : hms(e.time);
      const team = el('td', 'team-cell');
      const sw = el('span', 'swatch');
      sw.style.background = color(t, i);
      team.append(sw, document.createTextNode(t.name || 'team-' + t.id));
      const kind = el('td', 'kind');
      kind.append(el('span', 'badge', GD.KIND_LABELS[e.kind] || e.kind || 'event'));
      const p = num(e.points, 0);
      const what = el('td', 'reason', e.reason || '');
      if (e.kind === 'action' && e.source) what.prepend(el('span', 'who', e.source + ': '));
      tr.append(el('td', 'mono when', when), team, kind, what,
        el('td', 'num mono ' + (p > 0 ? 'up' : p < 0 ? 'down' : 'flat'), p ? signed(p, 1) : ''));
      frag.append(tr);
    }
    if (all.length === 0) {
      const tr = el('tr', 'empty');
      const td = el('td', '', 'nothing has happened yet');
      td.colSpan = 5;
      tr.append(td);
      frag.append(tr);
    }
    body.replaceChildren(frag);
  }

  // ---- chart ----

  function renderChart(teams) {
    if (typeof window.uPlot !== 'function') return; // the vendored script did not load
    if (!chart) {
      chart = GD.teamChart($('#chart-wrap'), teams, {
        col: 3,
        marks: () => marks(last ? last.teams || [] : []),
      });
    } else {
      chart.update(teams);
    }
  }

  // The chaos and scenario events and the players' actions, as chart marks.
  function marks(teams) {
    const out = [];
    teams.forEach((t, i) => {
      for (const e of t.events || []) {
        if (e.kind === 'action' || e.kind === 'chaos' || e.kind === 'event') {
          out.push({ time: e.time, kind: e.kind, color: e.kind === 'action' ? color(t, i) : '#8b97a8' });
        }
      }
    });
    return out;
  }

  // ---- receiving ----

  function render(data) {
    const teams = Array.isArray(data.teams) ? data.teams : [];
    const game = data.game || {};
    renderGame(game);
    renderTeams(teams, num(game.clock, 0));
    renderEvents(teams);
    renderChart(teams);
  }

  function accept(data, how) {
    if (!data || typeof data !== 'object') throw new Error('bad JSON');
    last = data;
    failures = 0;
    setStatus('');
    render(data);
    for (const fn of listeners) {
      try { fn(data, how); } catch (e) { console.error('scoreboard listener:', e); }
    }
  }

  function offline(err) {
    failures++;
    setStatus('server unreachable, retrying',
      failures + ' failed attempt' + (failures > 1 ? 's' : '') + ': ' + err);
    if (!last || failures > 2) {
      const state = $('#state');
      state.textContent = last && last.game && last.game.state === 'ended' ? 'ended · offline' : 'offline';
      state.className = 'pill state state-offline';
    }
  }

  function startStream() {
    if (typeof window.EventSource !== 'function') return startPolling();
    if (source) source.close();
    const es = new EventSource(STREAM);
    source = es;
    lastFrameAt = Date.now();
    es.addEventListener('scoreboard', (ev) => {
      try {
        const data = JSON.parse(ev.data);
        frames++;
        document.body.dataset.frames = String(frames);
        lastFrameAt = Date.now();
        if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
        setTransport('stream');
        accept(data, 'stream');
      } catch (err) {
        console.warn('scoreboard frame:', err);
      }
    });
    es.addEventListener('ping', () => { lastFrameAt = Date.now(); });
    es.addEventListener('end', () => fallBack('the server ended the stream'));
    es.onerror = () => fallBack('the stream failed');
  }

  // Polls until the stream works again (tried every RETRY_STREAM_MS).
  function fallBack(why) {
    if (source) { source.close(); source = null; }
    console.info('scoreboard: ' + why + '; polling');
    startPolling();
    setTimeout(startStream, RETRY_STREAM_MS);
  }

  function startPolling() {
    setTransport('poll');
    if (!pollTimer) pollTimer = setTimeout(poll, 0);
  }

  async function poll() {
    pollTimer = null;
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = ctl ? setTimeout(() => ctl.abort(), TIMEOUT_MS) : null;
    try {
      const res = await fetch(API, { cache: 'no-store', signal: ctl ? ctl.signal : undefined });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const data = await res.json();
      polls++;
      document.body.dataset.polls = String(polls);
      accept(data, 'poll');
    } catch (err) {
      offline(err);
    } finally {
      if (timer) clearTimeout(timer);
      if (!source || Date.now() - lastFrameAt > STALE_MS) pollTimer = setTimeout(poll, POLL_MS);
    }
  }

  // A stream that went quiet (a proxy holding it, a stopped server): poll meanwhile.
  setInterval(() => {
    if (source && Date.now() - lastFrameAt > STALE_MS && !pollTimer) {
      fallBack('no frame for ' + Math.round((Date.now() - lastFrameAt) / 1000) + ' s');
    }
  }, 1000);

  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (last) render(last); }, 100);
  });

  // For other scripts of the page (instructor.js): the last scoreboard and its frames.
  window.gameday = {
    get scoreboard() { return last; },
    onScoreboard(fn) { listeners.push(fn); if (last) fn(last, 'replay'); },
    refresh() { return poll(); },
  };

  document.body.dataset.frames = '0';
  document.body.dataset.polls = '0';
  startStream();
})();
