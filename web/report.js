// gameday post-game report: renders the report JSON (from #report-data when the page
// was written by `gameday report`, else from /api/v1/report of the running server) as a
// ranking, the score chart with event marks, latency and error charts per team, and per
// team its actions with their effect, its timeline and its bill by resource.
'use strict';

(function () {
  const { num, hms, fixed, signed, color, el } = window.GD;
  const $ = (sel) => document.querySelector(sel);

  function cellRow(cells) {
    const tr = el('tr');
    for (const c of cells) {
      if (c instanceof Node) {
        const td = el('td');
        td.append(c);
        tr.append(td);
      } else {
        tr.append(el('td', c.cls || '', c.text));
      }
    }
    return tr;
  }

  function rate(v) {
    return typeof v === 'number' ? signed(v, 1) : 'n/a';
  }

  function cls(v) {
    return 'num mono ' + (typeof v !== 'number' ? 'flat' : v > 0 ? 'up' : v < 0 ? 'down' : 'flat');
  }

  function table(head, rows, className) {
    const t = el('table', 'grid-table ' + (className || ''));
    const tr = el('tr');
    for (const h of head) tr.append(el('th', h.startsWith('#') ? 'num' : '', h.replace(/^#/, '')));
    const thead = el('thead');
    thead.append(tr);
    const tbody = el('tbody');
    for (const r of rows) tbody.append(r);
    t.append(thead, tbody);
    return t;
  }

  function teamName(t) {
    const s = el('span', 'team-cell');
    const sw = el('span', 'swatch');
    sw.style.background = color(t, 0);
    s.append(sw, document.createTextNode(t.name || 'team-' + t.id));
    return s;
  }

  function render(rep) {
    const game = rep.game || {};
    const teams = Array.isArray(rep.teams) ? rep.teams : [];
    const title = (game.title || game.name || 'gameday') + ' · report';
    $('#title').textContent = title;
    document.title = title;
    $('#clock').textContent = hms(game.clock);
    $('#duration').textContent = hms(game.duration);
    const state = $('#state');
    state.textContent = game.state || 'ended';
    state.className = 'pill state state-' + String(game.state || 'ended').replace(/[^a-z-]/g, '');

    const ranked = teams.slice().sort((a, b) => num(b.score, 0) - num(a.score, 0));
    const rows = ranked.map((t, i) => {
      const s = t.series || [];
      const end = s.length ? s[s.length - 1] : [0, 0, 0, 0];
      return cellRow([{ text: i + 1, cls: 'num mono' }, teamName(t),
        { text: fixed(t.score, 1), cls: 'num mono' }, { text: fixed(end[1], 1), cls: 'num mono up' },
        { text: fixed(end[2], 1), cls: 'num mono down' },
        { text: '$' + fixed(t.bill && t.bill.total_usd, 2), cls: 'num mono' },
        { text: (t.actions || []).length, cls: 'num mono' }]);
    });
    $('#ranking tbody').replaceChildren(...rows);

    const marks = [];
    for (const t of teams) {
      for (const e of t.events || []) {
        if (e.kind === 'action' || e.kind === 'chaos' || e.kind === 'event' || e.kind === 'alarm') {
          marks.push({ time: e.time, kind: e.kind, color: e.kind === 'action' ? color(t, 0) : '#8b97a8' });
        }
      }
    }
    if (typeof window.uPlot === 'function') {
      GD.teamChart($('#score-chart'), teams, { col: 3, marks: () => marks, minHeight: 260 });
      const per = (f) => teams.map((t) => ({ id: t.id, name: t.name,
        series: (t.customers || []).map((c) => [c[0], 0, 0, f(c)]) }));
      GD.teamChart($('#latency-chart'), per((c) => c[5]), { col: 3, digits: 0, minHeight: 180 });
      GD.teamChart($('#errors-chart'), per((c) => c[2] + c[3] + c[4]), { col: 3, digits: 0, minHeight: 180 });
    }

    const box = $('#teams-report');
    box.replaceChildren();
    for (const t of teams) {
      const sec = el('section', 'panel team-report');
      sec.dataset.team = String(t.id);
      sec.style.setProperty('--team', color(t, 0));
      const h = el('h2', 'team-title');
      h.append(teamName(t), document.createTextNode(' · score ' + fixed(t.score, 1)));
      sec.append(h);

      sec.append(el('h3', '', 'Actions and their effect (points per game minute, ' +
        num(game.window_s, 120) / 60 + ' game minutes before vs after)'));
      const acts = (t.actions || []).map((a) => {
        const ef = a.effect || {};
        const tr = cellRow([{ text: hms(a.time), cls: 'mono' }, { text: a.source || '' },
          { text: a.reason || a.event || '' }, { text: rate(ef.before), cls: cls(ef.before) },
          { text: rate(ef.after), cls: cls(ef.after) }, { text: rate(ef.delta), cls: cls(ef.delta) }]);
        tr.className = 'action-row' + (a.error ? ' refused' : '');
        return tr;
      });
      sec.append(acts.length ? table(['game time', 'by', 'action', '#before', '#after', '#change'], acts, 'actions')
        : el('p', 'muted', 'No actions.'));

      sec.append(el('h3', '', 'Timeline'));
      const evs = (t.events || []).map((e) => {
        const when = e.from !== undefined && num(e.from, 0) < num(e.time, 0)
          ? hms(e.from) + '–' + hms(e.time) : hms(e.time);
        const badge = el('span', 'badge', GD.KIND_LABELS[e.kind] || e.kind || 'event');
        const tr = cellRow([{ text: when, cls: 'mono when' }, badge, { text: e.source || '' },
          { text: e.reason || '' }, { text: num(e.points, 0) ? signed(e.points, 1) : '', cls: cls(e.points) },
          { text: fixed(e.score, 1), cls: 'num mono' }]);
        tr.className = 'kind-' + String(e.kind || 'event').replace(/[^a-z]/g, '');
        return tr;
      });
      sec.append(evs.length ? table(['game time', 'kind', 'source', 'what', '#points', '#score'], evs, 'timeline')
        : el('p', 'muted', 'Nothing happened.'));

      const bill = t.bill || {};
      sec.append(el('h3', '', 'Final bill by resource: $' + fixed(bill.total_usd, 2)));
      const items = (bill.by_resource || []).map((b) => cellRow([{ text: b.resource || '' },
        { text: b.name || '' }, { text: b.type || '' }, { text: '$' + fixed(b.usd, 4), cls: 'num mono' }]));
      sec.append(items.length ? table(['resource', 'name', 'type', '#usd'], items, 'bill')
        : el('p', 'muted', 'Nothing was billed.'));
      box.append(sec);
    }
    document.body.dataset.rendered = '1';
  }

  function fail(err) {
    const s = $('#status');
    s.textContent = 'the report could not be loaded: ' + err;
    s.hidden = false;
  }

  const inline = document.getElementById('report-data');
  if (inline) {
    try { render(JSON.parse(inline.textContent)); } catch (err) { fail(err); }
  } else {
    fetch('api/v1/report', { cache: 'no-store' })
      .then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(render)
      .catch(fail);
  }
})();
