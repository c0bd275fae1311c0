// The instructor's panel of the board (gameday host): shown when the address ends in
// #instructor. With the admin token it pauses and resumes the game clock, extends or
// ends the game, sends a message to every team, and fires a scenario event or a chaos
// action now. Every act is audited by the server (principal "instructor").
const KEY = 'gameday.admin';

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

function hms(sec) {
  sec = Math.max(0, Math.floor(sec || 0));
  const h = Math.floor(sec / 3600), m = Math.floor(sec / 60) % 60, s = sec % 60;
  return h + ':' + String(m).padStart(2, '0') + ':' + String(s).padStart(2, '0');
}

async function call(method, path, body) {
  const r = await fetch('api/v1/' + path, {
    method,
    headers: { Authorization: 'Bearer ' + (sessionStorage.getItem(KEY) || ''),
      'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let j = null;
  try { j = await r.json(); } catch (e) { /* no body */ }
  if (!r.ok) throw new Error((j && j.message) || ('HTTP ' + r.status));
  return j;
}

function panel() {
  const css = el('link', { rel: 'stylesheet', href: 'instructor.css' });
  document.head.append(css);
  const out = el('output', { id: 'instr-result', 'aria-live': 'polite' });
  const say = (text, bad) => {
    out.textContent = text;
    out.className = bad ? 'bad' : 'good';
  };
  const act = (name, body) => async () => {
    try {
      const j = await call('POST', 'game/' + name, body ? body() : undefined);
      say(name + ': done at ' + hms(j.clock) + (j.paused ? ' (paused)' : '') +
        ', the game ends at ' + hms(j.duration));
      if (name === 'trigger') loadEvents();
    } catch (e) {
      say(name + ': ' + e.message, true);
    }
  };
  const token = el('input', { id: 'instr-token', type: 'password', placeholder: 'admin token',
    autocomplete: 'off', 'aria-label': 'admin token' });
  token.value = sessionStorage.getItem(KEY) || '';
  const login = el('form', { class: 'instr-login', onsubmit: (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, token.value.trim());
    loadEvents();
  } }, token, el('button', { type: 'submit' }, 'use'));
  const message = el('input', { id: 'instr-message', type: 'text', maxlength: '500',
    placeholder: 'a message to every team (the CEO speaks)', 'aria-label': 'message' });
  const extendBy = el('select', { id: 'instr-extend-by', 'aria-label': 'extend by' },
    ...['5m', '10m', '15m', '30m'].map((v) => el('option', { value: v }, v)));
  const events = el('select', { id: 'instr-event', 'aria-label': 'scenario event' });
  const chaos = el('select', { id: 'instr-chaos', 'aria-label': 'chaos action' },
    el('option', { value: 'terminate_random' }, 'terminate a random instance of each team'),
    el('option', { value: 'az_outage' }, 'zone a loses power for 5 minutes'));
  async function loadEvents() {
    try {
      const j = await call('GET', 'game/events');
      events.replaceChildren(...j.events.map((ev) => el('option', { value: String(ev.index) },
        hms(ev.at) + ' ' + ev.action + (ev.target ? ' ' + ev.target : '') +
        (ev.fired ? ' (fired)' : ''))));
      if (!j.events.length) events.append(el('option', { value: '' }, 'the scenario has no events'));
      say('instructor token accepted');
    } catch (e) {
      say('events: ' + e.message, true);
    }
  }
  const box = el('aside', { id: 'instructor', 'aria-label': 'instructor' },
    el('h2', {}, 'Instructor'),
    login,
    el('div', { class: 'instr-row' },
      el('button', { id: 'instr-pause', onclick: act('pause') }, 'Pause'),
      el('button', { id: 'instr-resume', onclick: act('resume') }, 'Resume'),
      extendBy,
      el('button', { id: 'instr-extend', onclick: act('extend', () => ({ by: extendBy.value })) },
        'Extend'),
      el('button', { id: 'instr-end', class: 'danger', onclick: async () => {
        if (window.confirm('End the game now for every team?')) await act('end')();
      } }, 'End game')),
    el('div', { class: 'instr-row' }, message,
      el('button', { id: 'instr-send', onclick: act('message', () => ({ text: message.value })) },
        'Send')),
    el('div', { class: 'instr-row' }, events,
      el('button', { id: 'instr-fire', onclick: act('trigger', () => ({ event: Number(events.value) })) },
        'Fire now')),
    el('div', { class: 'instr-row' }, chaos,
      el('button', { id: 'instr-chaos-go', class: 'danger', onclick: act('trigger', () =>
        chaos.value === 'az_outage' ? { action: 'az_outage', target: 'az/a', for: '5m' }
          : { action: 'terminate_random' }) }, 'Unleash')),
    out);
  document.body.append(box);
  document.body.classList.add('with-instructor');
  if (token.value) loadEvents();
}

if (location.hash.includes('instructor')) panel();
