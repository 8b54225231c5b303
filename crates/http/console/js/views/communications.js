// Communications: the list with every filter of the API, kept in the URL,
// and one communication with its facts, its history in words and what can
// still be done with it (cancel, reschedule, a status update).

import * as api from '../api.js';
import {
  button, confirmed, field, h, notice, onSubmit, pager, showErrors, table, toLocalInput, toRfc3339, when,
} from '../ui.js';
import {
  STATUSES, STATUS_LABELS, choices, client, clientLabel, clientLink, clientName, clientPicker, clientsById,
  facts, flash, labelCells, loadDictionaries, localText, moment, reasonSentence, reasonText, repeat, short,
  statusCell, takeFlash,
} from './communication-shared.js';

/** The list's filters, named as the API's query parameters. */
const FILTERS = [
  'status', 'user_id', 'department_id', 'communication_type_id', 'communication_source_id', 'batch_id', 'from', 'to',
];
const PAGE_SIZES = ['10', '25', '50', '100', '200'];
const DEFAULT_LIMIT = '50';

/** `#/communications?…` for `query`, empty values left out. */
function listHref(query) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return `#/communications${text ? `?${text}` : ''}`;
}

function excerpt(text, length = 70) {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}

export async function communicationsView({ query, navigate }) {
  const dict = await loadDictionaries();
  const filters = Object.fromEntries(FILTERS.filter((name) => query[name]).map((name) => [name, query[name]]));
  const limit = PAGE_SIZES.includes(query.limit) ? query.limit : DEFAULT_LIMIT;
  const offset = query.offset || undefined;

  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter communications' },
    h(
      'div',
      { class: 'filter-grid' },
      field('Status', { tag: 'select', name: 'status', value: filters.status || '' }, [
        ['', 'Any status'], ...STATUSES.map((status) => [status, STATUS_LABELS[status]]),
      ]),
      clientPicker({ label: 'Client', empty: 'Any client', selected: filters.user_id || '' }),
      field('Department', { tag: 'select', name: 'department_id', value: filters.department_id || '' }, choices(dict.departments, 'Any department')),
      field('Type', { tag: 'select', name: 'communication_type_id', value: filters.communication_type_id || '' }, choices(dict.types, 'Any type')),
      field('Channel', { tag: 'select', name: 'communication_source_id', value: filters.communication_source_id || '' }, choices(dict.sources, 'Any channel')),
      field('Batch', { name: 'batch_id', value: filters.batch_id || '', spellcheck: 'false', autocomplete: 'off', placeholder: 'A batch id' }),
      field('From', { type: 'datetime-local', name: 'from', value: toLocalInput(filters.from), title: 'To be sent at or after this moment' }),
      field('To', { type: 'datetime-local', name: 'to', value: toLocalInput(filters.to), title: 'To be sent before this moment' }),
      field('Per page', { tag: 'select', name: 'limit', value: limit }, PAGE_SIZES.map((size) => [size, size])),
    ),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary' }, 'Apply filters'),
      h('a', { class: 'btn', href: '#/communications' }, 'Clear filters'),
    ),
  );
  onSubmit(form, async (chosen) => {
    const next = {};
    for (const name of FILTERS) {
      if (chosen[name] !== undefined) next[name] = chosen[name];
    }
    next.from = toRfc3339(chosen.from);
    next.to = toRfc3339(chosen.to);
    if (chosen.limit && chosen.limit !== DEFAULT_LIMIT) next.limit = chosen.limit;
    navigate('/communications', next);
  });

  const active = Object.keys(filters).length;
  const box = h(
    'details',
    { class: 'filters-box card', open: active > 0 || window.matchMedia('(min-width: 721px)').matches },
    h('summary', {}, active ? `Filters (${active} in use)` : 'Filters'),
    form,
  );

  let results;
  try {
    const page = await api.get('/communications', { ...filters, limit, offset });
    results = listing(page, dict, { ...filters, limit: limit === DEFAULT_LIMIT ? undefined : limit });
  } catch (error) {
    if (error instanceof api.ApiError && (error.status === 422 || error.status === 400)) {
      box.open = true;
      showErrors(form, error);
      results = notice(`These filters are refused: ${error.message}`, 'error');
    } else {
      throw error;
    }
  }

  return h(
    'section',
    { class: 'communications-view' },
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Communications'),
      h(
        'div',
        { class: 'actions' },
        h('a', { class: 'btn primary', href: '#/send' }, 'Send'),
        h('a', { class: 'btn', href: '#/bulk' }, 'Bulk send'),
      ),
    ),
    box,
    results,
  );
}

function listing(page, dict, kept) {
  const names = new Map();
  const clientCell = (c) => {
    const cell = h('a', { class: 'client', href: `#/clients/${encodeURIComponent(c.user_id)}` }, short(c.user_id));
    if (!names.has(c.user_id)) names.set(c.user_id, []);
    names.get(c.user_id).push(cell);
    return cell;
  };
  const rows = table(
    [
      ['To be sent', (c) => when(c.communication_date)],
      ['Client', clientCell],
      ['Message', (c) => h('a', { href: `#/communications/${c.id}`, class: 'open' }, excerpt(c.message) || '(empty)')],
      ['Status', statusCell],
      ['Channel', (c) => {
        if (c.communication_source_id) return dict.source(c.communication_source_id);
        return h('span', { class: 'muted' }, c.status === 'booked' || c.status === 'not_sent' ? 'not chosen yet' : '—');
      }],
      ['Department', (c) => dict.department(c.department_id)],
      ['Type', (c) => dict.type(c.communication_type_id)],
    ],
    page.items,
    {
      caption: `Communications ${page.total === 0 ? '' : `${page.offset + 1}–${Math.min(page.offset + page.limit, page.total)} `}of ${page.total}, newest first`,
      empty: 'No communication matches these filters.',
    },
  );
  labelCells(rows, 'comm-table');
  // The clients' names arrive after the list; the ids stand in meanwhile.
  clientsById([...names.keys()]).then((found) => {
    for (const [id, cells] of names) {
      const user = found.get(id);
      if (user) cells.forEach((cell) => { cell.textContent = clientName(user); cell.title = clientLabel(user); });
    }
  });
  return h(
    'div',
    { class: 'results' },
    rows,
    pager(page, (to) => listHref({ ...kept, offset: to || undefined })),
  );
}

/* ---------------------------------------------------------------- detail */

const KIND_WORDS = {
  created: 'Created',
  booked: 'Booked',
  deferred: 'Deferred',
  channel_chosen: 'Channel chosen',
  attempt_failed: 'Attempt failed',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** One step of the history, in words: a title and an explanation. */
function eventWords(event, dict) {
  const channel = event.channel ? dict.channel(event.channel) : '';
  const on = channel ? ` on ${channel}` : '';
  switch (event.kind) {
    case 'booked':
      return [`Booked for ${localText(event.until)}`, event.detail];
    case 'deferred':
      return [
        `Deferred until ${localText(event.until)}`,
        [reasonSentence(event.reason) && `${reasonSentence(event.reason)}.`, event.detail].filter(Boolean).join(' '),
      ];
    case 'channel_chosen':
      return [`Channel chosen: ${channel || 'none'}`, event.detail ? `Why: ${event.detail}.` : ''];
    case 'attempt_failed':
      return [`Attempt${on} failed`, event.detail ? `The provider said: ${event.detail}` : ''];
    case 'sent':
      return [`Sent${on}`, event.detail];
    case 'failed':
      return [
        'Failed',
        [event.reason && `${reasonSentence(event.reason)}.`, event.detail].filter(Boolean).join(' '),
      ];
    default:
      return [`${KIND_WORDS[event.kind] || event.kind}${on}`, event.detail];
  }
}

function timeline(events, dict) {
  if (!events.length) return h('p', { class: 'muted' }, 'Nothing has happened yet.');
  return h(
    'ol',
    { class: 'timeline history' },
    events.map((event) => {
      const [title, detail] = eventWords(event, dict);
      return h(
        'li',
        { class: `ev ev-${event.kind}`, dataset: { kind: event.kind } },
        h('span', { class: 'kind' }, title),
        ' ',
        h('span', { class: 'at muted' }, when(event.at)),
        detail ? h('span', { class: 'detail' }, detail) : null,
      );
    }),
  );
}

/** Where a communication stands, in one sentence. */
function standing(c) {
  switch (c.status) {
    case 'booked':
      return `Booked for ${localText(c.communication_date)}; it is sent then, if the rules still allow.`;
    case 'not_sent':
      if (c.next_attempt_at && new Date(c.next_attempt_at) > new Date()) {
        return `Waiting until ${localText(c.next_attempt_at)}${c.status_reason ? `: ${reasonText(c.status_reason)}` : ''}.`;
      }
      return 'In the queue: it is being sent.';
    case 'sent':
      return `Sent ${localText(c.sent_at)}; no receipt yet.`;
    case 'delivered':
      return `Delivered ${localText(c.delivered_at)}.`;
    case 'read':
      return `Read ${localText(c.read_at)}.`;
    case 'failed':
      return `Failed${c.status_reason ? `: ${reasonText(c.status_reason)}` : ''}.`;
    case 'cancelled':
      return 'Cancelled: it will not be sent.';
    default:
      return '';
  }
}

function factList(c, dict, user) {
  return facts([
    ['Status', statusCell(c)],
    ['Client', user ? h('span', {}, clientLink(c.user_id, user), h('span', { class: 'muted' }, ` ${clientLabel(user).slice(clientName(user).length)}`)) : clientLink(c.user_id, null)],
    ['Department', dict.department(c.department_id)],
    ['Type', dict.type(c.communication_type_id)],
    ['Channel', c.communication_source_id ? dict.source(c.communication_source_id) : 'the department’s favourites, chosen when it is sent'],
    ['To be sent', moment(c.communication_date)],
    ['Next attempt', c.status === 'not_sent' && c.next_attempt_at ? moment(c.next_attempt_at) : null],
    ['Sent', c.sent_at ? when(c.sent_at) : null],
    ['Delivered', c.delivered_at ? when(c.delivered_at) : null],
    ['Read', c.read_at ? when(c.read_at) : null],
    ['Provider calls', String(c.attempts)],
    ['Provider’s id', c.provider_message_id],
    ['Batch', c.batch_id ? h('a', { href: `#/batches/${c.batch_id}` }, short(c.batch_id)) : null],
    ['Created', when(c.created_at)],
    ['Last change', when(c.updated_at)],
    ['Id', h('code', {}, c.id)],
  ]);
}

export async function communicationView({ params, refresh }) {
  let c;
  let dict;
  try {
    [c, dict] = await Promise.all([api.get(`/communications/${encodeURIComponent(params.id)}`), loadDictionaries()]);
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 404) {
      return h(
        'section',
        {},
        h('h1', {}, 'Communication not found'),
        h('p', {}, 'No communication has this id. ', h('a', { href: '#/communications' }, 'See them all'), '.'),
      );
    }
    throw error;
  }
  const user = await client(c.user_id);
  const flashed = takeFlash();

  const badge = h('span', { class: 'head-status' });
  const lead = h('p', { class: 'standing' });
  const factBox = h('div', { class: 'facts-box' });
  const message = h('div', { class: 'message-text' });
  const history = h('div', { class: 'history-box' });
  const actions = h('div', { class: 'actions-box' });
  let shownStatus = null;
  let shownKey = null;

  const draw = (current) => {
    const key = `${current.updated_at}|${current.events.length}`;
    if (key === shownKey) return;
    shownKey = key;
    badge.replaceChildren(statusCell(current));
    lead.textContent = standing(current);
    factBox.replaceChildren(factList(current, dict, user));
    message.textContent = current.message;
    history.replaceChildren(timeline(current.events, dict));
    if (current.status !== shownStatus) {
      shownStatus = current.status;
      actions.replaceChildren(...actionCards(current, refresh));
    }
  };
  draw(c);

  const root = h(
    'section',
    { class: 'communication-view' },
    h(
      'div',
      { class: 'page-head' },
      h('div', { class: 'title-line' }, h('h1', {}, `Communication to ${clientName(user) === '—' ? short(c.user_id) : clientName(user)}`), badge),
      h(
        'div',
        { class: 'actions' },
        h('a', { class: 'btn', href: listHref({ user_id: c.user_id }) }, 'This client’s communications'),
        c.batch_id ? h('a', { class: 'btn', href: `#/batches/${c.batch_id}` }, 'Its batch') : null,
      ),
    ),
    lead,
    flashed ? notice(flashed.message, flashed.kind) : null,
    h(
      'div',
      { class: 'detail-grid' },
      h(
        'div',
        { class: 'detail-main' },
        h('div', { class: 'card' }, h('h2', {}, 'Message'), message),
        h('div', { class: 'card' }, h('h2', { id: 'history-title' }, 'History'), history),
      ),
      h('div', { class: 'detail-side' }, actions, h('div', { class: 'card' }, h('h2', {}, 'Facts'), factBox)),
    ),
  );

  // Follow it while it may still move: often while it is being sent,
  // rarely while it waits or has been sent.
  repeat(root, async () => {
    const current = await api.get(`/communications/${encodeURIComponent(c.id)}`);
    draw(current);
    const soon = (iso) => !iso || new Date(iso).getTime() - Date.now() < 60000;
    switch (current.status) {
      case 'not_sent': return soon(current.next_attempt_at) ? 1000 : 15000;
      case 'booked': return soon(current.communication_date) ? 2000 : 30000;
      case 'sent':
      case 'delivered': return 15000;
      default: return false;
    }
  }, 1000);
  return root;
}

function actionCards(c, refresh) {
  if (c.status === 'booked' || c.status === 'not_sent') return [rescheduleCard(c, refresh), cancelCard(c, refresh)];
  if (c.status === 'sent' || c.status === 'delivered') return [statusCard(c, refresh)];
  return [h(
    'div',
    { class: 'card' },
    h('h2', {}, 'Actions'),
    h('p', { class: 'muted' }, `A ${STATUS_LABELS[c.status].toLowerCase()} communication is final: nothing can be changed.`),
  )];
}

/** The 409 of a booking the rules refuse: why, and the next free slot. */
export function refusal(error, what, retry) {
  const { reason, next_available_at: next } = error.problem;
  return h(
    'div',
    { class: 'refusal notice notice-error', role: 'alert' },
    h('p', { class: 'why' }, h('strong', {}, `${what} is refused. `), reason ? `${reasonSentence(reason)}.` : error.message),
    next
      ? h('p', { class: 'next-slot' }, 'The client’s next free slot: ', h('strong', {}, when(next)), '.')
      : h('p', {}, 'The client has no free slot within the horizon.'),
    next && retry ? retry(next) : null,
  );
}

function rescheduleCard(c, refresh) {
  const result = h('div', { class: 'result' });
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'reschedule-title' },
    h('h2', { id: 'reschedule-title' }, 'Reschedule or edit'),
    field('New date', {
      type: 'datetime-local',
      name: 'communication_date',
      value: toLocalInput(c.communication_date),
      hint: 'Later than now books it then; now or earlier sends it at once.',
    }),
    field('Message', { tag: 'textarea', name: 'message', value: c.message, maxlength: 10000, rows: 4 }),
    h('button', { type: 'submit', class: 'btn primary' }, 'Save changes'),
    result,
  );
  const save = async (body) => {
    try {
      await api.patch(`/communications/${c.id}`, body);
    } catch (error) {
      if (error instanceof api.ApiError && error.status === 409 && error.problem.reason) {
        result.replaceChildren(refusal(error, 'The new date', (next) => button('Reschedule to the next free slot', async (event) => {
          const target = event.currentTarget;
          target.disabled = true;
          await save({ communication_date: next }).finally(() => { target.disabled = false; });
        })));
        return;
      }
      if (error instanceof api.ApiError && error.status !== 422) {
        result.replaceChildren(notice(error.message, 'error'));
        return;
      }
      throw error;
    }
    flash(body.communication_date ? `Rescheduled for ${localText(body.communication_date)}.` : 'The message is changed.');
    refresh();
  };
  return onSubmit(form, async (chosen) => {
    result.replaceChildren();
    const body = {};
    const date = toRfc3339(chosen.communication_date);
    if (date && toLocalInput(date) !== toLocalInput(c.communication_date)) body.communication_date = date;
    if (chosen.message !== undefined && chosen.message !== c.message) body.message = chosen.message;
    if (chosen.message === undefined) body.message = '';
    if (!Object.keys(body).length) {
      result.replaceChildren(notice('Nothing changed.', 'info'));
      return;
    }
    await save(body);
  });
}

function cancelCard(c, refresh) {
  const result = h('div', { class: 'result' });
  return h(
    'div',
    { class: 'card' },
    h('h2', {}, 'Cancel'),
    h('p', { class: 'muted' }, c.status === 'booked' ? 'Cancelling frees the client’s booked slot; it will not be sent.' : 'Cancelling stops it before it is sent.'),
    button('Cancel communication', async (event) => {
      if (!confirmed('Cancel this communication? It will not be sent.')) return;
      const target = event.currentTarget;
      target.disabled = true;
      try {
        await api.post(`/communications/${c.id}/cancel`);
        flash('Cancelled: it will not be sent.');
        refresh();
      } catch (error) {
        target.disabled = false;
        result.replaceChildren(notice(error.message, 'error'));
      }
    }, { class: 'btn danger' }),
    result,
  );
}

function statusCard(c, refresh) {
  const moves = c.status === 'sent' ? ['delivered', 'read', 'failed'] : ['read', 'failed'];
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'status-title' },
    h('h2', { id: 'status-title' }, 'Update the status'),
    h('p', { class: 'muted' }, 'As a delivery receipt would: what became of it after it was sent.'),
    field('New status', { tag: 'select', name: 'status', required: true }, moves.map((s) => [s, STATUS_LABELS[s]])),
    field('Detail', { name: 'detail', maxlength: 1000, hint: 'Optional: words for the history.' }),
    h('button', { type: 'submit', class: 'btn primary' }, 'Update status'),
  );
  return onSubmit(form, async (chosen) => {
    await api.post(`/communications/${c.id}/status`, chosen);
    flash(`Marked ${STATUS_LABELS[chosen.status].toLowerCase()}.`);
    refresh();
  });
}
