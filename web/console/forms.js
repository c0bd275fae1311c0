// Forms generated from the registry's field tables (GET /api/v1/types): one input per
// field by its kind, defaults and allowed values as hints, references as choices of the
// team's resources of the target type. Each input carries data-path, the request's path
// of its value ("spec.max", "desired", "name"), which is what the server's error.field
// names, so a refusal shows at its field.

import { fieldOf } from './api.js';

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function fmt(v) {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// A hint of what a field allows: its kind, range, default.
function hint(f) {
  const parts = [f.kind];
  if (f.ref) parts[0] = (f.kind === 'refs' ? 'names of ' : 'name of ') + f.ref;
  if (typeof f.min === 'number' && typeof f.max === 'number' && !f.ref) {
    if (f.kind === 'refs' || f.kind === 'strs' || f.kind === 'list')
      parts.push(f.max >= 1e9 ? 'at least ' + f.min : f.min + '..' + f.max + ' items');
    else if (f.kind === 'cidr') parts.push('/' + f.min + '../' + f.max);
    else parts.push(f.min + '..' + f.max + (f.kind === 'dur' ? ' s' : ''));
  }
  if (f.default !== undefined && f.default !== null && !(Array.isArray(f.default) && !f.default.length))
    parts.push('default ' + fmt(f.default));
  if (f.required) parts.push('required');
  return parts.join(' · ');
}

// Which of the team's resources a reference of target `want` may name.
function candidates(want, ctx) {
  const types = ctx.types;
  const ok = (r) => {
    if (want === 'any') return true;
    const t = types.get(r.type);
    if (want === 'lb' || want === 'entry') return !!(t && t.flags.includes(want));
    return r.type === want;
  };
  return ctx.resources.filter((r) => ok(r) && !isGone(r)).map((r) => r.name);
}

export function isGone(r) {
  return r.deleted || (r.status && r.status.state === 'terminated');
}

// One input for field f at path; returns {row, read()} where read() gives the value to
// send (undefined: leave it out) or throws {path, message} for a value the page itself
// cannot even send (unparsable JSON).
function input(f, path, value, ctx) {
  const row = el('div', 'field');
  row.dataset.field = path;
  const id = 'f-' + path.replace(/[^A-Za-z0-9_-]/g, '_') + '-' + (ctx.seq = (ctx.seq || 0) + 1);
  const label = el('label', null, f.name);
  label.htmlFor = id;
  row.appendChild(label);
  let ctl, read;
  const has = value !== undefined && value !== null;
  if (f.kind === 'map' && f.fields) {
    const fs = el('fieldset', 'map');
    fs.dataset.path = path;
    const subs = f.fields.map((s) => input(s, path + '.' + s.name, has ? value[s.name] : undefined, ctx));
    subs.forEach((s) => fs.appendChild(s.row));
    row.appendChild(fs);
    read = () => {
      const o = {};
      let any = false;
      for (const s of subs) {
        const v = s.read();
        if (v !== undefined) {
          o[s.f.name] = v;
          any = true;
        }
      }
      return any ? o : undefined;
    };
    row.appendChild(el('div', 'hint', hint(f)));
    row.appendChild(el('div', 'err'));
    return { row, read, f };
  }
  if (f.kind === 'bool' || f.kind === 'enum' || f.kind === 'ref') {
    ctl = el('select');
    const def = f.default !== undefined ? ' (default ' + fmt(f.default) + ')' : '';
    ctl.appendChild(new Option(f.kind === 'ref' ? '(none)' : '(unset)' + def, ''));
    let opts = f.kind === 'bool' ? ['true', 'false'] : f.kind === 'enum' ? f.enum || [] : candidates(f.ref, ctx);
    if (has && !opts.includes(String(value))) opts = opts.concat([String(value)]);
    for (const o of opts) ctl.appendChild(new Option(o, o));
    if (has) ctl.value = String(value);
    read = () => (ctl.value === '' ? undefined : f.kind === 'bool' ? ctl.value === 'true' : ctl.value);
  } else if (f.kind === 'refs') {
    ctl = el('select');
    ctl.multiple = true;
    let opts = candidates(f.ref, ctx);
    const cur = has && Array.isArray(value) ? value.map(String) : [];
    for (const c of cur) if (!opts.includes(c)) opts = opts.concat([c]);
    ctl.size = Math.min(Math.max(opts.length, 2), 5);
    for (const o of opts) {
      const op = new Option(o, o);
      op.selected = cur.includes(o);
      ctl.appendChild(op);
    }
    read = () => {
      const v = Array.from(ctl.selectedOptions).map((o) => o.value);
      return v.length || has ? v : undefined;
    };
  } else if (f.kind === 'strs' || f.kind === 'list' || f.kind === 'obj' || f.kind === 'tags') {
    ctl = el('textarea');
    ctl.rows = 2;
    const lines = f.kind === 'strs';
    ctl.placeholder = lines ? 'one a line' : 'JSON';
    if (has) ctl.value = lines && Array.isArray(value) ? value.join('\n') : JSON.stringify(value);
    read = () => {
      const t = ctl.value.trim();
      if (t === '') return has ? (lines || f.kind === 'list' ? [] : {}) : undefined;
      if (lines) return t.split('\n').map((s) => s.trim()).filter((s) => s);
      try {
        return JSON.parse(t);
      } catch (e) {
        throw { path, message: path + ': not JSON (' + e.message + ')' };
      }
    };
  } else {
    ctl = el('input');
    ctl.type = 'text';
    ctl.autocomplete = 'off';
    const numeric = f.kind === 'int' || f.kind === 'num' || f.kind === 'dur';
    if (numeric) ctl.inputMode = 'decimal';
    if (has) ctl.value = fmt(value);
    else if (f.default !== undefined) ctl.placeholder = fmt(f.default);
    // A number field sends a number when the text is one; anything else is sent as
    // written, and the server says what is wrong with it.
    read = () => {
      const t = ctl.value.trim();
      if (t === '') return undefined;
      if (numeric && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t)) return Number(t);
      return t;
    };
  }
  ctl.id = id;
  ctl.name = path;
  ctl.dataset.path = path;
  row.appendChild(ctl);
  row.appendChild(el('div', 'hint', hint(f)));
  row.appendChild(el('div', 'err'));
  return { row, read, f };
}

// A form of fields at paths prefix + name, prefilled with values (a spec or nothing).
// Returns {node, read(), clear(), showError(err)}.
export function buildForm(fields, values, prefix, ctx) {
  const node = el('div', 'fields');
  const items = fields.map((f) => input(f, prefix + f.name, values ? values[f.name] : undefined, ctx));
  items.forEach((i) => node.appendChild(i.row));
  return {
    node,
    items,
    // {name: value} of the fields that have one.
    read() {
      const out = {};
      for (const it of items) {
        const v = it.read();
        if (v !== undefined) out[it.f.name] = v;
      }
      return out;
    },
  };
}

// Clears the messages of a form element.
export function clearErrors(formEl) {
  for (const e of formEl.querySelectorAll('.err')) e.textContent = '';
  for (const e of formEl.querySelectorAll('.field.bad')) e.classList.remove('bad');
  for (const e of formEl.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
  const top = formEl.querySelector('.form-error');
  if (top) {
    top.textContent = '';
    top.hidden = true;
  }
}

// The row of the form whose data-field is path, or its nearest enclosing one
// ("spec.health_check.path" falls back to "spec.health_check").
function rowFor(formEl, path) {
  let p = path;
  while (p) {
    for (const r of formEl.querySelectorAll('.field')) if (r.dataset.field === p) return r;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    p = cut > 0 ? p.slice(0, cut) : '';
  }
  return null;
}

// Shows an error (an ApiError or {message, field}) at its field, and whatever names no
// field of the form at the form's top. Returns the row that got the main message.
export function showError(formEl, err) {
  const msgs = [];
  const main = { field: err.field || fieldOf(err.message), message: err.message };
  msgs.push(main);
  for (const m of err.errors || []) if (m !== err.message) msgs.push({ field: fieldOf(m), message: m });
  let mainRow = null;
  const loose = [];
  for (const m of msgs) {
    const row = m.field ? rowFor(formEl, m.field) : null;
    if (!row) {
      loose.push(m.message);
      continue;
    }
    row.classList.add('bad');
    const box = row.querySelector(':scope > .err');
    box.textContent = box.textContent ? box.textContent + '\n' + m.message : m.message;
    const ctl = row.querySelector(':scope > input, :scope > select, :scope > textarea');
    if (ctl) ctl.setAttribute('aria-invalid', 'true');
    if (m === main) mainRow = row;
  }
  const top = formEl.querySelector('.form-error');
  if (top && loose.length) {
    top.textContent = (err.code ? err.code + ': ' : '') + loose.join('\n');
    top.hidden = false;
  }
  if (mainRow) mainRow.scrollIntoView({ block: 'nearest' });
  return mainRow;
}
