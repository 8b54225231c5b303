// What the screens of communications share: the statuses and reasons in
// words, the dictionaries by id, client names, the client picker, polling
// while a screen is shown, and a few DOM helpers ui.js does not have.

import * as api from '../api.js';
import { field, h, uid, when } from '../ui.js';

/** Every status of a communication, in the order of its life. */
export const STATUSES = ['booked', 'not_sent', 'sent', 'delivered', 'read', 'failed', 'cancelled'];

export const STATUS_LABELS = {
  booked: 'Booked',
  not_sent: 'Not sent',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** Why a communication waits, failed, or a booking is refused, in words. */
const REASONS = {
  user_unavailable: 'the client is unavailable then (blocked for a while)',
  rate_limited: 'a rule of the department allows this client no more communications then',
  retrying: 'the provider had a passing error; it will be tried again',
  user_blocked: 'the client is blocked with no end in sight',
  no_channel: 'no channel is usable: none of the department’s channels for the type is active and has the client’s address',
  provider_error: 'every channel’s provider refused it',
  type_blocked: 'the communication type is blocked',
  channel_blocked: 'the channel asked for is blocked',
  receipt: 'a status update reported it failed',
  unknown_user: 'no client has this id',
};

export function reasonText(reason) {
  if (!reason) return '';
  return REASONS[reason] || reason.replaceAll('_', ' ');
}

/** `reason` as a sentence's start: "A rule of the department…". */
export function reasonSentence(reason) {
  const text = reasonText(reason);
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : '';
}

/** The departments, types and channels, with lookups by id and code. */
export async function loadDictionaries() {
  const [departments, types, sources] = await Promise.all([
    api.get('/departments', { limit: 500 }),
    api.get('/communication-types', { limit: 500 }),
    api.get('/communication-sources', { limit: 500 }),
  ]);
  const byId = (list) => new Map(list.items.map((item) => [item.id, item]));
  const d = byId(departments);
  const t = byId(types);
  const s = byId(sources);
  const codes = new Map(sources.items.map((item) => [item.code, item]));
  return {
    departments: departments.items,
    types: types.items,
    sources: sources.items,
    department: (id) => (d.get(id) ? d.get(id).name : short(id)),
    type: (id) => (t.get(id) ? t.get(id).name : short(id)),
    source: (id) => (id ? (s.get(id) ? s.get(id).name : short(id)) : '—'),
    channel: (code) => (code ? (codes.get(code) ? codes.get(code).name : code) : ''),
  };
}

/** `[value, label]` pairs of a select, `empty` first when given. */
export function choices(items, empty, label = (item) => item.name) {
  const pairs = items.map((item) => [item.id, item.status === 'blocked' ? `${label(item)} (blocked)` : label(item)]);
  return empty === undefined ? pairs : [['', empty], ...pairs];
}

export function short(id) {
  // The end of the id: the start of a v7 id is its time, shared by ids
  // made in the same minute.
  return id ? String(id).slice(-8) : '—';
}

/** A client's name for people: names, else an address, else the id. */
export function clientName(user) {
  if (!user) return '—';
  const name = [user.first_name, user.last_name].filter(Boolean).join(' ').trim();
  return name || user.email || user.phone || user.external_id || short(user.id);
}

/** The name with its first address: "Ada Lovelace · +4420…". */
export function clientLabel(user) {
  const name = clientName(user);
  const address = user.phone || user.email || (user.push_token ? 'push' : '');
  return address && address !== name ? `${name} · ${address}` : name;
}

const clients = new Map();

/** The client `id`, fetched once per page load; null if it is gone. */
export function client(id) {
  if (!clients.has(id)) {
    clients.set(id, api.get(`/users/${encodeURIComponent(id)}`).then((user) => {
      clients.set(id, Promise.resolve(user));
      return user;
    }, () => {
      clients.delete(id);
      return null;
    }));
  }
  return clients.get(id);
}

/** A map of id → client for `ids`, six requests at a time. */
export async function clientsById(ids) {
  const unique = [...new Set(ids.filter(Boolean))];
  const found = new Map();
  let next = 0;
  const worker = async () => {
    while (next < unique.length) {
      const id = unique[next];
      next += 1;
      found.set(id, await client(id));
    }
  };
  await Promise.all(Array.from({ length: Math.min(6, unique.length) }, worker));
  return found;
}

/** A link to the client's page with their name. */
export function clientLink(id, user) {
  return h('a', { href: `#/clients/${encodeURIComponent(id)}` }, user ? clientName(user) : short(id));
}

/**
 * A client picker: a search box over `GET /users?q=` and a select named
 * `name` (the API's field) listing what it found, `empty` first (“Any
 * client”, “Choose a client”). With `pick`, a search picks its first match.
 */
export function clientPicker({ label = 'Client', name = 'user_id', selected = '', empty = 'Choose a client', pick = false, required = false } = {}) {
  const select = field(label, { tag: 'select', name, required }, [['', empty]]);
  const control = select.querySelector('select');
  const status = h('p', { class: 'hint', id: uid('found'), 'aria-live': 'polite' });
  const search = field('Find a client', {
    type: 'search',
    autocomplete: 'off',
    placeholder: 'Name, phone, e-mail or external id',
  });
  const input = search.querySelector('input');
  let ticket = 0;
  let timer = null;

  const fill = (users, keep, searched) => {
    const before = control.value;
    const current = keep || before;
    control.replaceChildren(h('option', { value: '' }, empty));
    const seen = new Set();
    for (const user of users) {
      if (seen.has(user.id)) continue;
      seen.add(user.id);
      control.append(h('option', { value: user.id }, clientLabel(user)));
    }
    if (current && seen.has(current)) control.value = current;
    else if (pick && searched && users.length) control.value = users[0].id;
    else control.value = '';
    if (control.value !== before) control.dispatchEvent(new Event('change', { bubbles: true }));
  };

  const find = async (q, keep) => {
    const mine = ++ticket;
    status.textContent = 'Searching…';
    try {
      const [page, chosen] = await Promise.all([
        api.get('/users', { q: q || undefined, limit: 20 }),
        keep ? client(keep) : null,
      ]);
      if (mine !== ticket) return;
      const users = chosen && !page.items.some((u) => u.id === chosen.id) ? [chosen, ...page.items] : page.items;
      fill(users, keep, Boolean(q));
      status.textContent = q
        ? `${page.total} client${page.total === 1 ? '' : 's'} found${page.total > page.items.length ? `; the first ${page.items.length} are listed` : ''}.`
        : `${page.total} client${page.total === 1 ? '' : 's'} in all${page.total > page.items.length ? `; search to find others` : ''}.`;
    } catch (error) {
      if (mine === ticket) status.textContent = `The search failed: ${error.message}`;
    }
  };

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => find(input.value.trim()), 250);
  });
  input.addEventListener('keydown', (event) => {
    // Enter searches at once rather than submitting the form.
    if (event.key === 'Enter') {
      event.preventDefault();
      clearTimeout(timer);
      find(input.value.trim());
    }
  });
  input.after(status);
  input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby')} ${status.id}`);
  find('', selected || undefined);
  return h('div', { class: 'picker' }, search, select);
}

/**
 * Calls `tick` every `delay` ms while `root` is on the page (and the tab is
 * visible): `tick` answers the next delay, or false to stop. Ends when the
 * screen is left.
 */
export function repeat(root, tick, delay = 1000) {
  let seen = false;
  let absent = 0;
  const step = async () => {
    if (root.isConnected) {
      seen = true;
      absent = 0;
    } else {
      absent += 1;
      if (seen || absent > 30) return;
    }
    let next = delay;
    if (root.isConnected && !document.hidden) {
      try {
        next = await tick();
      } catch (error) {
        next = delay * 3;
      }
      if (next === false) return;
      if (typeof next !== 'number') next = delay;
    }
    setTimeout(step, next);
  };
  setTimeout(step, delay);
}

/** Gives each cell of a `table()` its column's heading, for narrow screens. */
export function labelCells(wrap, extraClass) {
  if (!wrap.querySelector) return wrap;
  const headings = [...wrap.querySelectorAll('thead th')].map((th) => th.textContent);
  for (const row of wrap.querySelectorAll('tbody tr')) {
    [...row.children].forEach((cell, i) => { cell.dataset.label = headings[i] || ''; });
  }
  if (extraClass) wrap.classList.add(extraClass);
  return wrap;
}

/** A fact list: `[[term, description], …]`, empty descriptions left out. */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs
      .filter(([, value]) => value !== undefined && value !== null && value !== '' && value !== false)
      .map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  );
}

/** A moment with its distance from now: "5/12/2026, 10:00 (in 3 hours)". */
export function moment(iso) {
  if (!iso) return '—';
  return h('span', {}, when(iso), ' ', h('span', { class: 'muted' }, `(${relative(iso)})`));
}

/** "in 3 hours", "5 minutes ago". */
export function relative(iso) {
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  const format = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  const units = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === 'second') {
      return format.format(Math.round(seconds / size), unit);
    }
  }
  return '';
}

/** A local date and time in words, for sentences and buttons. */
export function localText(iso) {
  return iso ? new Date(iso).toLocaleString() : '';
}

/** A status badge that also says the reason. */
export function statusCell(c) {
  return h(
    'span',
    { class: 'status-cell' },
    h('span', { class: `badge badge-${c.status}` }, STATUS_LABELS[c.status] || c.status),
    c.status_reason ? h('span', { class: 'reason muted' }, c.status_reason.replaceAll('_', ' ')) : null,
  );
}

/** One message for the next screen (a "sent" notice after a redirect). */
let flashed = null;

export function flash(message, kind = 'success') {
  flashed = { message, kind };
}

export function takeFlash() {
  const taken = flashed;
  flashed = null;
  return taken;
}

/** An id for aria references. */
export { uid };
