// Clients: search, create, edit, delete, and when each may be contacted.

import * as api from '../api.js';
import {
  button, confirmed, field, h, heading, link, onSubmit, pager, toLocalInput, toRfc3339, when,
} from '../ui.js';
import {
  Messages, put, act, conflictOnField, countOf, flash, hashHref, notFound, pageOf, stackedTable, takeFlash,
} from './directory-common.js';

/** The client's fields: label, API name, input attributes; all but the names may be null. */
const FIELDS = [
  ['First name', 'first_name', { autocomplete: 'off' }],
  ['Last name', 'last_name', { autocomplete: 'off' }],
  ['Phone', 'phone', { type: 'tel', autocomplete: 'off', hint: 'International format: + then 8 to 15 digits, e.g. +15551234567.' }],
  ['E-mail', 'email', { type: 'email', autocomplete: 'off' }],
  ['Push token', 'push_token', { autocomplete: 'off', hint: 'The address of the push channel.' }],
  ['External id', 'external_id', { autocomplete: 'off', hint: 'The client’s id in the system it came from; unique.' }],
];
const NAMES = new Set(['first_name', 'last_name']);

export function clientName(user) {
  const name = `${user.first_name} ${user.last_name}`.trim();
  return name || user.email || user.phone || user.external_id || 'Unnamed client';
}

function clientFields(user = {}) {
  return h(
    'div',
    { class: 'form-grid' },
    FIELDS.map(([label, name, attrs]) => field(label, { ...attrs, name, value: user[name] ?? '' })),
  );
}

function taken(error) {
  return conflictOnField(error, ['external_id'], 'is already the external id of another client');
}

export async function clientsView({ query, navigate }) {
  const { limit, offset } = pageOf(query);
  const q = (query.q || '').trim();
  const page = await api.get('/users', { q, limit, offset });
  const search = onSubmit(
    h(
      'form',
      { class: 'card search', role: 'search', novalidate: true },
      h(
        'div',
        { class: 'row inline' },
        field('Search clients', {
          name: 'q', type: 'search', value: q, placeholder: 'Name, phone, e-mail or external id',
        }),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit', class: 'btn primary' }, 'Search'),
          q ? link(hashHref('/clients', { limit: query.limit }), 'Clear search', { class: 'btn' }) : null,
        ),
      ),
    ),
    async (body) => navigate('/clients', { q: (body.q || '').trim(), limit: query.limit }),
  );
  const rows = stackedTable(
    [
      ['Name', (user) => link(`#/clients/${user.id}`, clientName(user))],
      ['Phone', (user) => user.phone || '—'],
      ['E-mail', (user) => user.email || '—'],
      ['External id', (user) => user.external_id || '—'],
      ['Created', (user) => when(user.created_at)],
    ],
    page.items,
    {
      caption: q ? `${countOf(page, 'client')} matching “${q}”` : countOf(page, 'client'),
      empty: q ? `No client matches “${q}”.` : 'No clients yet.',
    },
  );
  return h(
    'section',
    { class: 'directory' },
    heading('Clients', link('#/clients/new', 'New client', { class: 'btn primary' })),
    takeFlash(),
    search,
    rows,
    page.total > 0 ? pager(page, (to) => hashHref('/clients', { q, limit: query.limit, offset: to })) : null,
  );
}

export async function newClientView({ navigate }) {
  const form = onSubmit(
    h(
      'form',
      { class: 'card', 'aria-labelledby': 'new-client-title', novalidate: true },
      h('h2', { id: 'new-client-title' }, 'Contact details'),
      h('p', { class: 'muted' }, 'Every field may be left empty; a channel can reach the client only at an address given here.'),
      clientFields(),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'btn primary' }, 'Create client'),
        link('#/clients', 'Cancel', { class: 'btn' }),
      ),
    ),
    async (body) => {
      try {
        const user = await api.post('/users', body);
        flash(`The client ${clientName(user)} is created.`);
        navigate(`/clients/${user.id}`);
      } catch (error) {
        throw taken(error);
      }
    },
  );
  form.querySelector('input').setAttribute('autofocus', '');
  return h('section', { class: 'directory' }, heading('New client'), form);
}

export async function clientView({ params, navigate }) {
  const id = params.id;
  let user;
  let availability;
  try {
    [user, availability] = await Promise.all([
      api.get(`/users/${encodeURIComponent(id)}`),
      api.get(`/users/${encodeURIComponent(id)}/availability`),
    ]);
  } catch (error) {
    if (error.status === 404) return notFound('client', '#/clients', 'Back to clients');
    throw error;
  }
  const messages = new Messages();
  const head = heading(
    clientName(user),
    link(hashHref('/communications', { user_id: user.id }), 'Communications', { class: 'btn' }),
    button('Delete client', act(messages, async () => {
      if (!confirmed(`Delete the client ${clientName(user)}? This cannot be undone.`)) return;
      try {
        await api.del(`/users/${user.id}`);
      } catch (error) {
        if (error.status === 409) {
          messages.show(
            `${clientName(user)} cannot be deleted: the client's communications are kept. `
              + 'Block the client under Availability instead.',
            'error',
          );
          return;
        }
        throw error;
      }
      flash(`The client ${clientName(user)} is deleted.`);
      navigate('/clients');
    }, 'The client is not deleted: '), { class: 'btn danger' }),
  );
  const title = head.querySelector('h1');
  const facts = h('dl', { class: 'facts' });
  const showFacts = () => facts.replaceChildren(
    h('dt', {}, 'Id'), h('dd', {}, h('code', {}, user.id)),
    h('dt', {}, 'Created'), h('dd', {}, when(user.created_at)),
    h('dt', {}, 'Updated'), h('dd', {}, when(user.updated_at)),
  );
  showFacts();

  const saved = h('div', { class: 'result', role: 'status' });
  const edit = onSubmit(
    h(
      'form',
      { class: 'card', 'aria-labelledby': 'edit-client-title', novalidate: true },
      h('h2', { id: 'edit-client-title' }, 'Contact details'),
      clientFields(user),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Save changes')),
      saved,
    ),
    async (_, form) => {
      saved.replaceChildren();
      // Only what changed; an emptied address is cleared (null).
      const patch = {};
      for (const [, name] of FIELDS) {
        const value = form.elements[name].value.trim() === '' ? '' : form.elements[name].value;
        if (value === (user[name] ?? '')) continue;
        patch[name] = value === '' && !NAMES.has(name) ? null : value;
      }
      if (!Object.keys(patch).length) {
        saved.replaceChildren(h('p', { class: 'muted' }, 'Nothing changed.'));
        return;
      }
      try {
        user = await api.patch(`/users/${user.id}`, patch);
      } catch (error) {
        throw taken(error);
      }
      for (const [, name] of FIELDS) form.elements[name].value = user[name] ?? '';
      title.textContent = clientName(user);
      showFacts();
      saved.replaceChildren(h('p', { class: 'saved' }, 'Saved.'));
    },
  );

  return h(
    'section',
    { class: 'directory' },
    head,
    takeFlash(),
    messages.element,
    h('div', { class: 'card' }, facts),
    h('div', { class: 'two-columns' }, edit, availabilityCard(user, availability)),
  );
}

/** Whether the client can be contacted at `now`, as the API decides it (SPEC §2). */
function blockedAt(availability, now) {
  if (availability.status !== 'blocked') return false;
  const from = availability.blocked_from ? new Date(availability.blocked_from) : null;
  const to = availability.blocked_to ? new Date(availability.blocked_to) : null;
  return (!from || from <= now) && (!to || now < to);
}

function describe(availability) {
  const now = new Date();
  if (availability.status !== 'blocked') {
    return [h('span', { class: 'badge badge-active' }, 'available'), ' The client can be contacted.'];
  }
  const { blocked_from: from, blocked_to: to } = availability;
  const period = [
    ' Blocked ',
    from ? ['from ', when(from), ' '] : 'since always ',
    to ? ['until ', when(to)] : 'until further notice',
    '.',
  ];
  if (blockedAt(availability, now)) {
    return [h('span', { class: 'badge badge-blocked' }, 'blocked now'), period,
      to ? ' Communications wait until then.' : ' Communications to this client fail.'];
  }
  const later = from && new Date(from) > now;
  return [
    h('span', { class: 'badge badge-active' }, 'available now'),
    period,
    later ? ' The block has not started yet.' : ' The block is over.',
  ];
}

function availabilityCard(user, initial) {
  let availability = initial;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const summary = h('p', { class: 'availability-summary', role: 'status' });
  const showSummary = () => put(summary, describe(availability));
  showSummary();
  const status = field('Status', { tag: 'select', name: 'status', value: availability.status }, [
    ['active', 'Available'],
    ['blocked', 'Blocked'],
  ]);
  const period = h(
    'fieldset',
    { class: 'period' },
    h('legend', {}, `Blocked period (your local time${zone ? `, ${zone}` : ''})`),
    h(
      'div',
      { class: 'row' },
      field('Blocked from', {
        type: 'datetime-local', name: 'blocked_from', value: toLocalInput(availability.blocked_from), hint: 'Empty: since always.',
      }),
      field('Blocked to', {
        type: 'datetime-local', name: 'blocked_to', value: toLocalInput(availability.blocked_to), hint: 'Empty: until further notice.',
      }),
    ),
  );
  const select = status.querySelector('select');
  const togglePeriod = () => {
    const blocked = select.value === 'blocked';
    period.disabled = !blocked;
    period.classList.toggle('inactive', !blocked);
  };
  select.addEventListener('change', togglePeriod);
  togglePeriod();
  const result = h('div', { class: 'result' });
  const form = onSubmit(
    h(
      'form',
      { class: 'card', 'aria-labelledby': 'availability-title', novalidate: true },
      h('h2', { id: 'availability-title' }, 'Availability'),
      summary,
      status,
      period,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Save availability')),
      result,
    ),
    async (body) => {
      result.replaceChildren();
      const request = { status: body.status };
      if (body.status === 'blocked') {
        request.blocked_from = toRfc3339(body.blocked_from) ?? null;
        request.blocked_to = toRfc3339(body.blocked_to) ?? null;
      }
      availability = await api.put(`/users/${user.id}/availability`, request);
      showSummary();
      result.replaceChildren(h('p', { class: 'saved' }, 'Availability saved.'));
    },
  );
  return form;
}
