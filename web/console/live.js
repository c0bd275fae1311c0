// Live data for the views: named feeds, each a function that fetches one answer of the
// API, and the views that subscribe to them. Today every feed is polled once a second;
// a server-sent-events stream can later push into publish() instead, and the views stay
// as they are.

const feeds = new Map(); // name -> {fetch, subs: Set, busy, last}
let timer = null;

// Declares (or replaces) the feed `name`, fetched by fetchFn().
export function feed(name, fetchFn) {
  const f = feeds.get(name) || { subs: new Set(), busy: false, last: undefined };
  f.fetch = fetchFn;
  feeds.set(name, f);
}

// Calls cb(data, error) on each new answer of feed `name`; returns the unsubscriber.
export function subscribe(name, cb) {
  if (!feeds.has(name)) feed(name, null);
  const f = feeds.get(name);
  f.subs.add(cb);
  if (f.last !== undefined) cb(f.last, null);
  return () => f.subs.delete(cb);
}

// Hands data to the feed's subscribers (the poller does; a stream could).
export function publish(name, data, error) {
  const f = feeds.get(name);
  if (!f) return;
  if (!error) f.last = data;
  for (const cb of f.subs) {
    try {
      cb(data, error || null);
    } catch (e) {
      console.error('view of ' + name + ': ' + (e && e.stack ? e.stack : e));
    }
  }
}

async function poll(name, f) {
  if (f.busy || !f.fetch || f.subs.size === 0) return;
  f.busy = true;
  try {
    publish(name, await f.fetch(), null);
  } catch (e) {
    publish(name, null, e);
  } finally {
    f.busy = false;
  }
}

// Fetches every feed (or the named ones) now: after a write, so that it shows at once.
// Resolves when they have answered.
export function refresh(...names) {
  const all = [];
  for (const [name, f] of feeds) if (names.length === 0 || names.includes(name)) all.push(poll(name, f));
  return Promise.all(all);
}

export function start(ms = 1000) {
  stop();
  refresh();
  timer = setInterval(refresh, ms);
}

export function stop() {
  if (timer) clearInterval(timer);
  timer = null;
}
