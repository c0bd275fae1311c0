// The console's one door to the HTTP API: the team token (sessionStorage), the bearer
// header on every call, and the API's error shape {"error": {code, message, errors,
// field}} as an ApiError the views can show at a form field.

const KEY = 'gameday.console.token';

export function token() {
  return sessionStorage.getItem(KEY) || '';
}

export function setToken(t) {
  sessionStorage.setItem(KEY, t);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, err) {
    super(err.message || 'HTTP ' + status);
    this.status = status;
    this.code = err.code || 'HTTP' + status;
    this.field = err.field || '';
    this.errors = Array.isArray(err.errors) ? err.errors : [];
  }
}

// The field a message of the API is about: its leading path up to ": " (the rule the
// server's error.field follows), or ''.
export function fieldOf(msg) {
  const m = /^([A-Za-z0-9_.\[\]-]+): /.exec(String(msg || ''));
  return m ? m[1] : '';
}

// GET (or method) /api/v1/PATH with the token; the answer's JSON, or throws ApiError.
export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Authorization: 'Bearer ' + token() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch('api/v1/' + path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, { code: 'NetworkError', message: 'the server did not answer (' + e.message + ')' });
  }
  let j = null;
  try {
    j = await r.json();
  } catch (e) {
    j = null;
  }
  if (!r.ok) throw new ApiError(r.status, (j && j.error) || { message: 'HTTP ' + r.status });
  return j;
}
