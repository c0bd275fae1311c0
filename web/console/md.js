// A small markdown renderer for the scenario's story and runbook: headings, paragraphs,
// lists (ordered and not), block quotes, fenced and indented code, and inline code,
// bold, italic and links. It builds DOM nodes and sets only textContent, so server text
// is never parsed as HTML; a link keeps only http(s), relative and #anchor targets.

function h(tag, text) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  return e;
}

// A link target that cannot run code: http(s), mailto, or a relative address or an
// anchor with no scheme at all. Controls and spaces are refused outright, since a
// browser drops some of them before it reads the scheme ("\x01javascript:").
export function safeHref(url) {
  const u = String(url);
  if (/[\x00-\x20\x7f\\]/.test(u)) return null;
  if (/^(https?:\/\/|mailto:)/i.test(u)) return u;
  if (u.startsWith('//')) return null;
  const cut = u.search(/[/?#]/);
  if ((cut < 0 ? u : u.slice(0, cut)).includes(':')) return null;
  return u;
}

const INLINE = [
  { re: /`([^`]+)`/, make: (m) => h('code', m[1]) },
  { re: /\*\*([^*]+?)\*\*|__([^_]+?)__/, make: (m) => wrap('strong', m[1] || m[2]) },
  { re: /\*([^*\s][^*]*?)\*|\b_([^_\s][^_]*?)_\b/, make: (m) => wrap('em', m[1] || m[2]) },
  {
    re: /\[([^\]]+)\]\(([^)\s]+)\)/,
    make: (m) => {
      const href = safeHref(m[2]);
      if (!href) return document.createTextNode(m[1]);
      const a = wrap('a', m[1]);
      a.setAttribute('href', href);
      if (/^https?:/i.test(href)) {
        a.setAttribute('rel', 'noopener noreferrer');
        a.setAttribute('target', '_blank');
      }
      return a;
    },
  },
];

function wrap(tag, text) {
  const e = h(tag);
  inline(e, text);
  return e;
}

// Appends the inline markup of text to parent: the earliest token first, text between.
export function inline(parent, text) {
  let s = String(text);
  while (s.length) {
    let best = null;
    for (const t of INLINE) {
      const m = t.re.exec(s);
      if (m && (!best || m.index < best.m.index)) best = { m, t };
    }
    if (!best) {
      parent.appendChild(document.createTextNode(s));
      return;
    }
    if (best.m.index > 0) parent.appendChild(document.createTextNode(s.slice(0, best.m.index)));
    parent.appendChild(best.t.make(best.m));
    s = s.slice(best.m.index + best.m[0].length);
  }
}

const LIST = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/;

// Renders markdown src into a new element (a div of class md).
export function render(src) {
  const root = h('div');
  root.className = 'md';
  const lines = String(src || '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  const blank = (l) => /^\s*$/.test(l);
  while (i < lines.length) {
    const l = lines[i];
    if (blank(l)) {
      i++;
      continue;
    }
    let m;
    if ((m = /^\s*(```|~~~)\s*([\w-]*)\s*$/.exec(l))) {
      const fence = m[1], code = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence)) code.push(lines[i++]);
      i++;
      const pre = h('pre');
      pre.appendChild(h('code', code.join('\n')));
      root.appendChild(pre);
    } else if (/^( {4}|\t)/.test(l)) {
      const code = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || (blank(lines[i]) && i + 1 < lines.length && /^( {4}|\t)/.test(lines[i + 1])))) {
        code.push(lines[i].replace(/^( {4}|\t)/, ''));
        i++;
      }
      const pre = h('pre');
      pre.appendChild(h('code', code.join('\n')));
      root.appendChild(pre);
    } else if ((m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(l))) {
      const e = h('h' + m[1].length);
      inline(e, m[2]);
      root.appendChild(e);
      i++;
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(l)) {
      root.appendChild(h('hr'));
      i++;
    } else if (/^\s*>/.test(l)) {
      const q = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) q.push(lines[i++].replace(/^\s*>\s?/, ''));
      const bq = h('blockquote');
      bq.appendChild(render(q.join('\n')));
      root.appendChild(bq);
    } else if (LIST.test(l)) {
      const ordered = /\d/.test(LIST.exec(l)[2]);
      const list = h(ordered ? 'ol' : 'ul');
      const items = []; // each item's lines, joined before its inline markup (a code span may wrap)
      while (i < lines.length) {
        const x = lines[i];
        const lm = LIST.exec(x);
        if (lm && /\d/.test(lm[2]) === ordered) {
          items.push([lm[3]]);
          i++;
        } else if (items.length && !blank(x) && /^\s+\S/.test(x) && !/^( {4}|\t)/.test(x)) {
          items[items.length - 1].push(x.trim());
          i++;
        } else {
          break;
        }
      }
      for (const it of items) {
        const li = h('li');
        inline(li, it.join(' '));
        list.appendChild(li);
      }
      root.appendChild(list);
    } else {
      const para = [];
      while (i < lines.length && !blank(lines[i]) && !/^(#{1,6})\s/.test(lines[i]) && !LIST.test(lines[i]) &&
             !/^\s*(```|~~~)/.test(lines[i]) && !/^\s*>/.test(lines[i]))
        para.push(lines[i++].trim());
      const p = h('p');
      inline(p, para.join(' '));
      root.appendChild(p);
    }
  }
  return root;
}
