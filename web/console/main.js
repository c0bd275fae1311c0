// The team console (console.html): log in with a team token, then the scenario's story
// and runbook, the team's resources by type with their actions and forms (all drawn
// from GET /api/v1/types), a live architecture diagram, metric charts with alarm
// thresholds, the audit log, the bill and the score events. Everything refreshes once
// a second through live.js.

import { api, ApiError, token, setToken, clearToken } from './api.js';
import * as live from './live.js';
import { render as markdown } from './md.js';
import { el, buildForm, clearErrors, showError, isGone } from './forms.js';
import { draw as drawDiagram, health } from './diagram.js';
import { chart as makeChart, thresholds } from './charts.js';

const $ = (sel) => document.querySelector(sel);
const enc = encodeURIComponent;

const state = {
  types: [],             // the registry's rows
  typeMap: new Map(),    // name -> row
  resources: [],         // the team's, as last polled
  latest: new Map(),     // resource name -> {metric: latest value}
  selected: null,        // the type listed in the resources panel
  picked: null,          // the resource a box of the diagram named
  defaulted: false,      // the first charts were added
  charts: [],            // [{resource, metric, view, unsub}]
  endpoint: '',
  audit: { principal: '', event: '', resource: '' },
};

// ---- formatting ----

function hms(sec) {
  sec = Math.max(0, Math.floor(Number(sec) || 0));
  const h = Math.floor(sec / 3600), m = Math.floor(sec / 60) % 60, s = sec % 60;
  return h + ':' + String(m).padStart(2, '0') + ':' + String(s).padStart(2, '0');
}

function money(v) {
  v = Number(v) || 0;
  return '$' + (v < 0.01 && v > 0 ? v.toFixed(5) : v.toFixed(2));
}

function pts(v) {
  v = Number(v) || 0;
  return (v > 0 ? '+' : v < 0 ? '−' : '±') + Math.abs(v).toFixed(Math.abs(v) < 10 ? 2 : 0);
}

function brief(v) {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 79) + '…' : s;
}

function toast(msg, bad) {
  const t = $('#toast');
  t.textContent = msg;
  t.className = 'toast' + (bad ? ' bad' : '');
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

// ---- login ----

function showLogin(msg) {
  live.stop();
  $('#console').hidden = true;
  $('#whoami').hidden = true;
  $('#login').hidden = false;
  const e = $('#login-error');
  e.textContent = msg || '';
  e.hidden = !msg;
  $('#login-token').focus();
}

async function login(tok) {
  setToken(tok);
  try {
    const s = await api('score');
    return s;
  } catch (e) {
    clearToken();
    if (e instanceof ApiError && (e.code === 'InvalidToken' || e.status === 401 || e.status === 403))
      throw new Error('That token is not valid for this game. Use the team token that ' +
        "'gameday play' printed (or teams[].token in game.json).");
    if (e instanceof ApiError && e.code === 'MissingTeam')
      throw new Error('This is the admin token of a game with several teams: use a team token.');
    throw e;
  }
}

// ---- the story and runbook ----

function showDocs(game) {
  $('#title').textContent = game.title || game.name || 'gameday';
  document.title = (game.title || game.name || 'gameday') + ' · team console';
  $('#story').replaceChildren(game.story ? markdown(game.story) : el('p', 'muted', 'This scenario has no story.'));
  $('#runbook').replaceChildren(game.runbook ? markdown(game.runbook) : el('p', 'muted', 'This scenario has no runbook.'));
}

function tabs(container) {
  for (const b of container.querySelectorAll('[role=tab]')) {
    b.addEventListener('click', () => {
      for (const o of container.querySelectorAll('[role=tab]')) {
        o.setAttribute('aria-selected', String(o === b));
        $('#' + o.getAttribute('aria-controls')).hidden = o !== b;
      }
    });
  }
}

// ---- resources ----

function statusText(r) {
  if (r.deleted) return 'deleted';
  const st = r.status || {};
  return st.state || '';
}

// A short line of a resource's spec: its scalar fields that differ from the default.
function specLine(r, t) {
  const parts = [];
  for (const f of t.fields) {
    const v = r.spec ? r.spec[f.name] : undefined;
    if (v === undefined || v === null || typeof v === 'object') continue;
    if (f.default !== undefined && JSON.stringify(f.default) === JSON.stringify(v) && !f.required) continue;
    parts.push(f.name + '=' + v);
    if (parts.length >= 4) break;
  }
  return parts.join('  ');
}

function drawTypes() {
  const nav = $('#types');
  const counts = new Map();
  for (const r of state.resources) if (!isGone(r)) counts.set(r.type, (counts.get(r.type) || 0) + 1);
  const want = state.types.map((t) => t.name + ':' + (counts.get(t.name) || 0)).join(',') + '|' + state.selected;
  if (nav.dataset.key === want) return;
  nav.dataset.key = want;
  const used = state.types.filter((t) => counts.get(t.name));
  const unused = state.types.filter((t) => !counts.get(t.name));
  nav.replaceChildren();
  const add = (t) => {
    const b = el('button', 'type' + (t.name === state.selected ? ' on' : '') + (counts.get(t.name) ? '' : ' empty'));
    b.type = 'button';
    b.dataset.type = t.name;
    b.title = t.summary;
    b.appendChild(el('span', 'tname', t.name));
    b.appendChild(el('span', 'count', counts.get(t.name) || 0));
    b.addEventListener('click', () => {
      state.selected = t.name;
      state.picked = null;
      drawTypes();
      drawList();
    });
    nav.appendChild(b);
  };
  used.forEach(add);
  if (unused.length) nav.appendChild(el('div', 'sep', 'other types'));
  unused.forEach(add);
}

function actionsOf(t) {
  return (t.actions || []).filter((a) => a.name !== 'update' && a.name !== 'delete');
}

function drawList() {
  const t = state.typeMap.get(state.selected);
  const box = $('#res-list');
  if (!t) {
    box.replaceChildren();
    return;
  }
  const head = el('div', 'list-head');
  const ht = el('div');
  ht.appendChild(el('h3', null, t.name));
  ht.appendChild(el('div', 'muted summary', t.summary));
  head.appendChild(ht);
  if (t.creatable) {
    const nb = el('button', 'primary', 'New ' + t.name);
    nb.type = 'button';
    nb.dataset.action = 'create';
    nb.addEventListener('click', () => openCreate(t));
    head.appendChild(nb);
  }
  const mine = state.resources.filter((r) => r.type === t.name).sort((a, b) => (isGone(a) - isGone(b)) || a.name.localeCompare(b.name));
  // Redrawn only when something shown changed, so that focus and hover stay put.
  const key = JSON.stringify([t.name, state.picked, mine.map((r) => [r.id, r.name, r.deleted, r.spec, statusText(r), health(r, state.resources)])]);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  const table = el('table', 'res');
  const thead = el('thead');
  const hr = el('tr');
  for (const c of ['name', 'state', '']) hr.appendChild(el('th', null, c));
  thead.appendChild(hr);
  table.appendChild(thead);
  const tb = el('tbody');
  for (const r of mine) {
    const tr = el('tr', (isGone(r) ? 'gone' : '') + (r.name === state.picked ? ' picked' : ''));
    tr.dataset.name = r.name;
    const name = el('td', 'name');
    name.appendChild(el('div', 'mono', r.name));
    name.appendChild(el('div', 'muted id', r.id));
    const line = specLine(r, t);
    if (line) name.appendChild(el('div', 'spec mono', line));
    tr.appendChild(name);
    const st = el('td');
    const s = statusText(r);
    const h = health(r, state.resources);
    st.appendChild(el('span', 'state ' + h, s || (h === 'ok' ? 'ok' : '—')));
    tr.appendChild(st);
    const acts = el('td', 'acts');
    if (!isGone(r)) {
      for (const a of actionsOf(t)) acts.appendChild(actButton(a.name, () => openAction(t, r, a)));
      acts.appendChild(actButton('update', () => openUpdate(t, r)));
      acts.appendChild(actButton('delete', () => openDelete(t, r), 'danger'));
    }
    tr.appendChild(acts);
    tb.appendChild(tr);
  }
  if (!mine.length) {
    const tr = el('tr');
    const td = el('td', 'muted', 'No ' + t.name + ' in the team yet.');
    td.colSpan = 3;
    tr.appendChild(td);
    tb.appendChild(tr);
  }
  table.appendChild(tb);
  box.replaceChildren(head, table);
}

function actButton(name, fn, cls) {
  const b = el('button', 'act' + (cls ? ' ' + cls : ''), name);
  b.type = 'button';
  b.dataset.action = name;
  b.addEventListener('click', fn);
  return b;
}

// ---- the dialog: every write of the console goes through it ----

function formCtx() {
  return { types: state.typeMap, resources: state.resources };
}

// Opens the dialog with fields and a submit that returns the request to send; on
// success closes it and refreshes, on a refusal shows the server's message at its field.
function dialog({ title, summary, form, submitLabel, danger, send }) {
  const dlg = $('#dlg');
  $('#dlg-title').textContent = title;
  $('#dlg-summary').textContent = summary || '';
  const body = $('#dlg-fields');
  body.replaceChildren(form ? form.node : el('div'));
  const sub = $('#dlg-submit');
  sub.textContent = submitLabel;
  sub.className = danger ? 'danger' : 'primary';
  const f = $('#dlg-form');
  clearErrors(f);
  f.onsubmit = async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    let req;
    try {
      req = send();
    } catch (e) {
      showError(f, { message: e.message, field: e.path || '' });
      return;
    }
    if (!req) return;
    sub.disabled = true;
    try {
      await api(req.path, { method: req.method, body: req.body });
      dlg.close();
      toast(req.done);
      // The list first, so that no view asks about a resource the write deleted.
      live.refresh('resources').then(() => live.refresh());
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      showError(f, e);
    } finally {
      sub.disabled = false;
    }
  };
  if (!dlg.open) dlg.showModal();
  const first = body.querySelector('input, select, textarea');
  if (first) first.focus();
}

function openAction(t, r, a) {
  const fields = a.body || [];
  const values = a.name === 'scale' ? { desired: r.spec && r.spec.desired } : {};
  const form = fields.length ? buildForm(fields, values, '', formCtx()) : null;
  dialog({
    title: a.name + ' ' + t.name + ' ' + r.name,
    summary: a.method + ' /api/v1/' + a.path.replace('{name}', r.name),
    form,
    submitLabel: a.name,
    danger: a.name === 'terminate' || a.name === 'stop',
    send: () => ({ method: a.method, path: a.path.replace('{name}', enc(r.name)), body: form ? form.read() : {},
      done: a.name + ' ' + r.name + ': done' }),
  });
}

function openUpdate(t, r) {
  const spec = r.spec || {};
  const form = buildForm(t.fields, spec, 'spec.', formCtx());
  dialog({
    title: 'update ' + t.name + ' ' + r.name,
    summary: t.summary,
    form,
    submitLabel: 'save',
    send: () => {
      const v = form.read(), patch = {};
      for (const k in v) if (JSON.stringify(v[k]) !== JSON.stringify(spec[k])) patch[k] = v[k];
      if (!Object.keys(patch).length) {
        showError($('#dlg-form'), { message: 'nothing changed' });
        return null;
      }
      return { method: 'PATCH', path: 'resources/' + enc(r.name), body: { spec: patch }, done: r.name + ' updated' };
    },
  });
}

function openCreate(t) {
  const nameField = [{ name: 'name', kind: 'str', required: true }];
  const nf = buildForm(nameField, {}, '', formCtx());
  const form = buildForm(t.fields, {}, 'spec.', formCtx());
  const both = { node: el('div', 'fields') };
  both.node.append(nf.node, form.node);
  dialog({
    title: 'new ' + t.name,
    summary: t.summary,
    form: both,
    submitLabel: 'create',
    send: () => ({ method: 'POST', path: 'resources', body: { type: t.name, name: nf.read().name || '', spec: form.read() },
      done: t.name + ' created' }),
  });
}

function openDelete(t, r) {
  dialog({
    title: 'delete ' + t.name + ' ' + r.name,
    summary: 'DELETE /api/v1/resources/' + r.name + (t.name === 'asg' ? ' (its instances are terminated with it)' : ''),
    form: null,
    submitLabel: 'delete',
    danger: true,
    send: () => ({ method: 'DELETE', path: 'resources/' + enc(r.name), done: r.name + ' deleted' }),
  });
}

// ---- the diagram and the latest metrics ----

async function fetchLatest() {
  const want = state.resources.filter((r) => !isGone(r)).slice(0, 80);
  const out = new Map();
  await Promise.all(want.map(async (r) => {
    try {
      out.set(r.name, await api('metrics?resource=' + enc(r.name)));
    } catch (e) {
      /* a resource deleted since the list: no metrics */
    }
  }));
  return out;
}

// A click on a box of the diagram lists its type and marks its row.
function pickFromDiagram(ev) {
  const node = ev.target.closest && ev.target.closest('.node');
  const r = node && state.resources.find((x) => x.name === node.dataset.name);
  if (!r) return;
  state.selected = r.type;
  state.picked = r.name;
  drawTypes();
  drawList();
  const row = document.querySelector('#res-list tr.picked');
  if (row) row.scrollIntoView({ block: 'nearest' });
}

function redrawDiagram() {
  drawDiagram($('#diagram'), state.resources, state.typeMap, state.types.map((t) => t.name), state.latest);
}

// ---- charts ----

function addChart(resource, metric) {
  if (state.charts.some((c) => c.resource === resource && c.metric === metric)) return;
  const card = el('div', 'chart-card');
  card.dataset.resource = resource;
  card.dataset.metric = metric;
  const head = el('div', 'chart-head');
  head.appendChild(el('span', 'chart-title', resource + ' · ' + metric));
  const val = el('span', 'chart-val mono');
  head.appendChild(val);
  // Raw samples, or CloudWatch's statistics per minute (GetMetricStatistics).
  const stat = el('select', 'stat');
  stat.setAttribute('aria-label', 'statistic');
  for (const [v, t] of [['', 'samples'], ['*', 'per minute'], ['Average', 'Average / 1m'], ['Sum', 'Sum / 1m'],
    ['Maximum', 'Maximum / 1m'], ['p99', 'p99 / 1m']])
    stat.appendChild(new Option(t, v));
  head.appendChild(stat);
  const x = el('button', 'x', '×');
  x.type = 'button';
  x.title = 'remove this chart';
  head.appendChild(x);
  const plotEl = el('div', 'plot');
  card.append(head, plotEl);
  $('#charts').appendChild(card);
  const view = makeChart(plotEl, metric, state.charts.length);
  const name = 'chart:' + resource + ':' + metric;
  const base = 'metrics?resource=' + enc(resource) + '&metric=' + enc(metric);
  const fetcher = () => {
    const st = stat.value;
    if (!st) return api(base);
    return api(base + '&period=60&window=3600' + (st === '*' ? '' : '&statistic=' + enc(st))).then((a) =>
      (a.Datapoints || []).map((d) => [d.Timestamp, d[a.Statistic]]).sort((p, q) => p[0] - q[0]));
  };
  live.feed(name, fetcher);
  stat.addEventListener('change', () => live.refresh(name));
  const unsub = live.subscribe(name, (series, err) => {
    if (err) return;
    const res = state.resources.find((r) => r.name === resource) || { name: resource };
    const lines = thresholds(state.resources.filter((r) => r.type === 'alarm' && !r.deleted), res, metric);
    view.update(series, lines);
    const lastp = series && series.length ? series[series.length - 1][1] : null;
    val.textContent = lastp === null ? '' : String(Math.round(lastp * 100) / 100);
    const alarm = lines.find((l) => l.state === 'ALARM');
    card.classList.toggle('alarming', !!alarm);
  });
  const c = { resource, metric, view, unsub };
  state.charts.push(c);
  c.remove = () => {
    unsub();
    view.destroy();
    card.remove();
    state.charts = state.charts.filter((o) => o !== c);
  };
  x.addEventListener('click', c.remove);
  live.refresh(name);
}

// The first charts, once: what the alarms watch, the entry's requests, the group's size.
function defaultCharts() {
  if (state.defaulted || !state.resources.length) return;
  state.defaulted = true;
  const alarms = state.resources.filter((r) => r.type === 'alarm' && !r.deleted && r.spec);
  for (const a of alarms.slice(0, 2)) {
    const res = state.resources.find((r) => r.name === a.spec.resource || r.id === a.spec.resource);
    if (res) addChart(res.name, a.spec.metric);
  }
  if (state.endpoint) addChart(state.endpoint, 'RequestCount');
  const asg = state.resources.find((r) => r.type === 'asg' && !r.deleted);
  if (state.charts.length < 3 && asg) addChart(asg.name, 'GroupInServiceInstances');
}

function drawPicker() {
  const rs = $('#pick-resource');
  const names = state.resources.filter((r) => !isGone(r) && Object.keys(state.latest.get(r.name) || {}).length).map((r) => r.name);
  const key = names.join(',');
  if (rs.dataset.key !== key) {
    const cur = rs.value;
    rs.dataset.key = key;
    rs.replaceChildren(...names.map((n) => new Option(n, n)));
    if (names.includes(cur)) rs.value = cur;
  }
  const ms = $('#pick-metric');
  const metrics = Object.keys(state.latest.get(rs.value) || {}).sort();
  const mkey = rs.value + ':' + metrics.join(',');
  if (ms.dataset.key !== mkey) {
    const cur = ms.value;
    ms.dataset.key = mkey;
    ms.replaceChildren(...metrics.map((n) => new Option(n, n)));
    if (metrics.includes(cur)) ms.value = cur;
  }
}

// ---- audit, bill, events ----

function cell(tr, text, cls) {
  const td = el('td', cls, text);
  tr.appendChild(td);
  return td;
}

function drawAudit(list, err) {
  const msg = $('#audit-error');
  if (err) {
    msg.textContent = err.message;
    msg.hidden = false;
    return;
  }
  msg.hidden = true;
  const tb = $('#audit tbody');
  const rows = (list || []).slice().reverse();
  const key = rows.length + ':' + (rows.length ? rows[0].seq + ':' + rows[rows.length - 1].seq : '');
  if (tb.dataset.key === key) return;
  tb.dataset.key = key;
  tb.replaceChildren(...rows.map((a) => {
    const tr = el('tr', a.errorCode ? 'refused' : '');
    tr.dataset.event = a.eventName || '';
    cell(tr, a.gameTime || hms(a.eventTime), 'mono');
    cell(tr, a.principal);
    cell(tr, a.eventName, 'mono');
    cell(tr, (a.resources || []).map((r) => r.name || r.id).join(', ') || brief(a.requestParameters && (a.requestParameters.name || a.requestParameters.id || a.requestParameters.autoScalingGroupName)));
    cell(tr, brief(a.requestParameters), 'mono muted params');
    cell(tr, a.errorCode || 'ok', a.errorCode ? 'bad' : 'good');
    return tr;
  }));
  $('#audit-count').textContent = rows.length + ' records';
}

function drawBill(b) {
  $('#bill-total').textContent = money(b.total_usd);
  $('#bill-points').textContent = pts(b.points) + ' points';
  const rows = (b.by_resource || []).slice().sort((x, y) => y.usd - x.usd);
  const top = rows.length ? rows[0].usd : 0;
  $('#bill tbody').replaceChildren(...rows.map((r) => {
    const tr = el('tr');
    tr.dataset.name = r.name || r.resource;
    cell(tr, r.name || r.resource, 'mono');
    cell(tr, r.type);
    const td = cell(tr, '', 'bar-cell');
    const bar = el('div', 'bar');
    bar.style.width = (top > 0 ? Math.max(2, (100 * r.usd) / top) : 0) + '%';
    td.appendChild(bar);
    cell(tr, money(r.usd), 'num mono');
    return tr;
  }));
}

function drawEvents(list) {
  const rows = (list || []).slice().reverse();
  const tb = $('#events tbody');
  const key = rows.length + ':' + (rows.length ? rows[0].seq : '');
  if (tb.dataset.key === key) return;
  tb.dataset.key = key;
  tb.replaceChildren(...rows.map((e) => {
    const tr = el('tr', e.source === 'customers' ? 'quiet' : '');
    cell(tr, hms(e.time), 'mono');
    cell(tr, e.source);
    cell(tr, pts(e.points), 'num mono ' + (e.points > 0 ? 'good' : e.points < 0 ? 'bad' : ''));
    cell(tr, e.reason);
    return tr;
  }));
}

// ---- wiring ----

function auditPath() {
  const q = ['limit=-200'];
  for (const k of ['principal', 'event', 'resource']) if (state.audit[k]) q.push(k + '=' + enc(state.audit[k]));
  return 'audit?' + q.join('&');
}

async function startConsole(score) {
  $('#login').hidden = true;
  $('#console').hidden = false;
  $('#whoami').hidden = false;
  $('#team').textContent = 'team-' + score.team;
  const [types, game] = await Promise.all([api('types'), api('game')]);
  state.types = types;
  state.typeMap = new Map(types.map((t) => [t.name, t]));
  showDocs(game);
  try {
    state.endpoint = (await api('endpoint')).name || '';
  } catch (e) {
    state.endpoint = '';
  }

  live.feed('status', () => api('status'));
  live.feed('score', () => api('score'));
  live.feed('resources', () => api('resources'));
  live.feed('latest', fetchLatest);
  live.feed('audit', () => api(auditPath()));
  live.feed('bill', () => api('bill'));
  live.feed('events', () => api('score/events?limit=-100'));

  live.subscribe('status', (s, err) => {
    $('#conn').textContent = err ? 'reconnecting' : s.state;
    $('#conn').className = 'pill state-' + (err ? 'error' : s.state);
    if (err) return;
    $('#clock').textContent = hms(s.clock);
    $('#duration').textContent = hms(s.duration);
    const me = (s.teams || []).find((t) => t.id === score.team);
    if (me) $('#spent').textContent = money(me.cost_usd);
  });
  live.subscribe('score', (s, err) => {
    if (err && err.code === 'InvalidToken') showLogin('The token is no longer valid.');
    if (!err) $('#score').textContent = Math.round(s.score).toLocaleString('en-US');
  });
  live.subscribe('resources', (list, err) => {
    if (err) return;
    state.resources = list;
    if (!state.selected || !state.typeMap.has(state.selected)) {
      const first = state.types.find((t) => t.name === 'asg' && list.some((r) => r.type === 'asg')) ||
        state.types.find((t) => list.some((r) => r.type === t.name)) || state.types[0];
      state.selected = first && first.name;
    }
    drawTypes();
    drawList();
    redrawDiagram();
    // A chart of a resource that is gone (deleted) goes with it.
    for (const c of state.charts.slice()) if (!list.some((r) => r.name === c.resource)) c.remove();
    defaultCharts();
  });
  live.subscribe('latest', (m, err) => {
    if (err) return;
    state.latest = m;
    redrawDiagram();
    drawPicker();
  });
  live.subscribe('audit', drawAudit);
  live.subscribe('bill', (b, err) => { if (!err) drawBill(b); });
  live.subscribe('events', (l, err) => { if (!err) drawEvents(l); });
  live.start(1000);
}

function init() {
  tabs($('#docs'));
  $('#diagram').addEventListener('click', pickFromDiagram);
  $('#diagram').addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') pickFromDiagram(ev); });
  $('#login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const tok = $('#login-token').value.trim();
    if (!tok) {
      showLogin('Paste your team token.');
      return;
    }
    try {
      const s = await login(tok);
      $('#login-token').value = '';
      await startConsole(s);
    } catch (e) {
      showLogin(e.message);
    }
  });
  $('#logout').addEventListener('click', () => {
    clearToken();
    location.reload();
  });
  $('#dlg-cancel').addEventListener('click', () => $('#dlg').close());
  $('#pick-resource').addEventListener('change', drawPicker);
  $('#pick-add').addEventListener('click', () => {
    const r = $('#pick-resource').value, m = $('#pick-metric').value;
    if (r && m) addChart(r, m);
  });
  $('#audit-filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    for (const k of ['principal', 'event', 'resource']) state.audit[k] = $('#audit-' + k).value.trim();
    live.refresh('audit');
  });
  $('#audit-filters').addEventListener('reset', () => {
    state.audit = { principal: '', event: '', resource: '' };
    setTimeout(() => live.refresh('audit'), 0);
  });
  if (token()) {
    login(token()).then(startConsole, (e) => showLogin(e.message));
  } else {
    showLogin('');
  }
}

init();
