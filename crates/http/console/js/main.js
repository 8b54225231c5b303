// The console's shell: hash routes (`#/communications?status=sent`), so that
// every screen, with its filters and page, has a URL that can be reloaded,
// bookmarked or shared; the log-in gate; the menu.

import * as api from './api.js';
import { h, notice } from './ui.js';
import { routes } from './routes.js';

const view = document.getElementById('view');
const top = document.querySelector('header.top');
const menu = document.querySelector('.menu-toggle');
const nav = document.getElementById('nav');

/** The current route: path, its `:params`, and the query as an object. */
export function current() {
  const hash = window.location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = hash.split('?');
  return { path: path || '/', query: Object.fromEntries(new URLSearchParams(search)) };
}

/** Goes to `path` with `query` (empty values left out). */
export function navigate(path, query = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  const text = search.toString();
  const target = `#${path}${text ? `?${text}` : ''}`;
  if (window.location.hash === target) render();
  else window.location.hash = target;
}

function match(path) {
  for (const route of routes) {
    const names = [];
    const pattern = new RegExp(
      `^${route.path.replace(/:([a-z_]+)/g, (_, name) => { names.push(name); return '([^/]+)'; })}$`,
    );
    const found = path.match(pattern);
    if (found) {
      const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1])]));
      return { route, params };
    }
  }
  return null;
}

let rendering = 0;
let shownPath = null;

async function render() {
  const ticket = ++rendering;
  const { path, query } = current();
  const signedIn = api.hasSession();
  if (!signedIn && path !== '/login') {
    navigate('/login', { next: window.location.hash.replace(/^#/, '') });
    return;
  }
  top.hidden = !signedIn || path === '/login';
  for (const link of nav.querySelectorAll('a')) {
    const target = link.getAttribute('href').slice(1);
    const active = target === '/' ? path === '/' : path === target || path.startsWith(`${target}/`);
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  closeMenu();
  const found = match(path);
  const context = { params: found ? found.params : {}, query, navigate, refresh: render };
  let content;
  try {
    content = found
      ? await found.route.view(context)
      : h('section', {}, h('h1', {}, 'Not found'), h('p', {}, 'This page does not exist.'));
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) {
      navigate('/login', { next: window.location.hash.replace(/^#/, '') });
      return;
    }
    content = h(
      'section',
      {},
      h('h1', {}, 'Something went wrong'),
      notice(error instanceof api.ApiError ? error.message : String(error), 'error'),
    );
  }
  if (ticket !== rendering) return;
  view.replaceChildren(content);
  // Another screen starts at its top; the same one (a new page, a filter)
  // keeps the place.
  if (path !== shownPath) window.scrollTo(0, 0);
  shownPath = path;
  document.title = `${(found && found.route.title) || 'omnichannel'} · omnichannel console`;
  const focus = view.querySelector('[autofocus]') || view.querySelector('h1');
  if (focus) {
    if (!focus.hasAttribute('tabindex') && focus.tagName === 'H1') focus.setAttribute('tabindex', '-1');
    focus.focus({ preventScroll: true });
  }
}

function closeMenu() {
  nav.classList.remove('open');
  menu.setAttribute('aria-expanded', 'false');
}

menu.addEventListener('click', () => {
  const open = !nav.classList.contains('open');
  nav.classList.toggle('open', open);
  menu.setAttribute('aria-expanded', String(open));
});

api.onSessionEnd(() => navigate('/login', { expired: '1' }));
window.addEventListener('hashchange', render);
render();
