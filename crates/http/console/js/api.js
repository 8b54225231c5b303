// The admin API client of the console: the console is one more client of
// /api/admin/v1 and uses nothing else.
//
// The access token lives in this module's memory only. The refresh token is
// kept in sessionStorage, so that reloading the tab keeps the session and
// closing it ends it (docs/security.md). A 401 refreshes the pair once and
// repeats the request; concurrent requests share one refresh, since a
// refresh token is good for one use only.

export const BASE = '/api/admin/v1';
const REFRESH_KEY = 'omnichannel.refresh_token';

let accessToken = null;
let refreshing = null;
const endListeners = new Set();

/** A problem+json answer, or a failure to reach the server. */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    /** field name (dotted) → message, from a 422's `errors`. */
    this.fields = new Map();
    for (const error of this.problem.errors || []) {
      if (!this.fields.has(error.field)) this.fields.set(error.field, error.message);
    }
  }
}

/** Calls `listener` when the session ends by itself (refresh refused). */
export function onSessionEnd(listener) {
  endListeners.add(listener);
}

export function hasSession() {
  return accessToken !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
}

function keep(pair) {
  accessToken = pair.access_token;
  sessionStorage.setItem(REFRESH_KEY, pair.refresh_token);
}

function forget() {
  accessToken = null;
  sessionStorage.removeItem(REFRESH_KEY);
}

async function send(method, path, { body, query, token } = {}) {
  let url = BASE + path;
  if (query) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== '') search.set(name, value);
    }
    const text = search.toString();
    if (text) url += (url.includes('?') ? '&' : '?') + text;
  }
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    return await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(0, { title: 'Network error', detail: 'The server cannot be reached.' });
  }
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  const data = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, location: response.headers.get('location'), status: response.status };
}

async function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const refreshToken = sessionStorage.getItem(REFRESH_KEY);
      if (!refreshToken) throw new ApiError(401, { detail: 'Log in to continue.' });
      const response = await send('POST', '/auth/refresh', { body: { refresh_token: refreshToken } });
      if (!response.ok) {
        forget();
        for (const listener of endListeners) listener();
        throw new ApiError(401, { detail: 'Your session has ended: log in again.' });
      }
      keep(await response.json());
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** An authenticated call; answers `{data, location, status}` (`null` for a 204), throws ApiError. */
export async function request(method, path, options = {}) {
  if (accessToken === null) await refresh();
  let response = await send(method, path, { ...options, token: accessToken });
  if (response.status === 401) {
    await refresh();
    response = await send(method, path, { ...options, token: accessToken });
  }
  return parse(response);
}

// The answer's body; `null` for a 204.
export const get = async (path, query) => (await request('GET', path, { query }))?.data ?? null;
export const post = async (path, body) => (await request('POST', path, { body }))?.data ?? null;
export const put = async (path, body) => (await request('PUT', path, { body }))?.data ?? null;
export const patch = async (path, body) => (await request('PATCH', path, { body }))?.data ?? null;
export const del = async (path) => (await request('DELETE', path))?.data ?? null;

export async function login(username, password) {
  const response = await send('POST', '/auth/login', { body: { username, password } });
  const { data } = await parse(response);
  keep(data);
}

export async function logout() {
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  forget();
  if (refreshToken) {
    await send('POST', '/auth/logout', { body: { refresh_token: refreshToken } }).catch(() => {});
  }
}

/** For the tests of the console: makes the access token stale. */
export function expireAccessToken() {
  if (accessToken !== null) accessToken = 'expired';
}
