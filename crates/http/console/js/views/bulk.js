// Bulk sends: one message to many clients (chosen by search, or all of
// them) with `POST /communications/bulk`, then the batch's progress from
// `GET /batches/{id}` until nothing is pending, with the clients refused.

import * as api from '../api.js';
import { field, h, notice, onSubmit, progress, table, toRfc3339, uid, when } from '../ui.js';
import {
  STATUSES, STATUS_LABELS, choices, clientLabel, clientName, clientsById, labelCells, loadDictionaries, localText,
  reasonSentence, repeat, short,
} from './communication-shared.js';
import { books } from './send.js';

const RECEIPT_KEY = 'omnichannel.batch.';

/** What a bulk answered, kept for its batch page in this tab. */
function keepReceipt(receipt) {
  try {
    sessionStorage.setItem(RECEIPT_KEY + receipt.batch_id, JSON.stringify({
      accepted: receipt.accepted,
      refused: receipt.refused,
      at: new Date().toISOString(),
    }));
  } catch (error) {
    // A full storage loses the refused list only.
  }
}

function receiptOf(batchId) {
  try {
    return JSON.parse(sessionStorage.getItem(RECEIPT_KEY + batchId));
  } catch (error) {
    return null;
  }
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export async function bulkView({ navigate }) {
  const dict = await loadDictionaries();
  const chosen = new Map();
  const single = (list) => (list.length === 1 ? list[0].id : '');

  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Send');
  const everyone = h('input', { type: 'checkbox', name: 'all_users', id: uid('all-users') });
  const search = h('input', { type: 'search', id: uid('bulk-search'), autocomplete: 'off', placeholder: 'Name, phone, e-mail or external id' });
  const found = h('ul', { class: 'found-list', 'aria-label': 'Clients found' });
  const foundStatus = h('p', { class: 'hint', 'aria-live': 'polite' });
  const chosenList = h('ul', { class: 'chosen-list', 'aria-label': 'Chosen clients' });
  const chosenTitle = h('p', { class: 'chosen-title' });
  const recipientsId = uid('user_ids');
  const recipients = h(
    'fieldset',
    { class: 'recipients', id: recipientsId, name: 'user_ids', 'aria-describedby': `${recipientsId}-error` },
    h('legend', {}, 'Clients'),
    h('div', { class: 'check' }, everyone, h('label', { for: everyone.id }, 'All clients'), h('span', { class: 'hint' }, ' (up to 10 000)')),
    h(
      'div',
      { class: 'choose' },
      h('div', { class: 'field' }, h('label', { for: search.id }, 'Find clients'), search, foundStatus),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn add-all' }, 'Choose all found')),
      found,
      chosenTitle,
      chosenList,
    ),
    h('p', { class: 'field-error', id: `${recipientsId}-error`, hidden: true }),
  );

  const form = h(
    'form',
    { class: 'card bulk-form', 'aria-labelledby': 'bulk-title', novalidate: true },
    h('h2', { id: 'bulk-title' }, 'One message to many clients'),
    h(
      'div',
      { class: 'row' },
      field('Department', { tag: 'select', name: 'department_id', required: true, value: single(dict.departments) }, choices(dict.departments, 'Choose a department')),
      field('Type', { tag: 'select', name: 'communication_type_id', required: true }, choices(dict.types, 'Choose a type')),
    ),
    h(
      'div',
      { class: 'row' },
      field('Channel', { tag: 'select', name: 'communication_source_id', hint: 'Left to the department, its favourite channels are tried in order.' }, choices(dict.sources, 'The department’s favourites')),
      field('Book for', { type: 'datetime-local', name: 'communication_date', hint: 'Leave empty to send now; a later moment books it for each client.' }),
    ),
    field('Message', { tag: 'textarea', name: 'message', required: true, maxlength: 10000, rows: 4 }),
    recipients,
    h('div', { class: 'actions' }, submit),
  );

  const label = () => {
    const date = form.elements.communication_date.value;
    const verb = books(toRfc3339(date)) ? 'Book' : 'Send';
    submit.textContent = everyone.checked ? `${verb} to every client` : `${verb} to ${plural(chosen.size, 'client')}`;
    chosenTitle.textContent = everyone.checked ? '' : `Chosen: ${plural(chosen.size, 'client')}`;
  };

  const drawChosen = () => {
    chosenList.replaceChildren(...[...chosen.values()].map((user) => h(
      'li',
      {},
      h('span', {}, clientLabel(user)),
      h('button', {
        type: 'button',
        class: 'btn small',
        'aria-label': `Remove ${clientName(user)}`,
        onclick: () => {
          chosen.delete(user.id);
          const box = found.querySelector(`input[value="${CSS.escape(user.id)}"]`);
          if (box) box.checked = false;
          drawChosen();
        },
      }, 'Remove'),
    )));
    label();
  };

  let results = [];
  let ticket = 0;
  const find = async (q) => {
    const mine = ++ticket;
    foundStatus.textContent = 'Searching…';
    try {
      const page = await api.get('/users', { q: q || undefined, limit: 50 });
      if (mine !== ticket) return;
      results = page.items;
      found.replaceChildren(...results.map((user) => {
        const id = uid('client');
        const box = h('input', { type: 'checkbox', id, value: user.id, checked: chosen.has(user.id) });
        box.addEventListener('change', () => {
          if (box.checked) chosen.set(user.id, user);
          else chosen.delete(user.id);
          drawChosen();
        });
        return h('li', {}, box, h('label', { for: id }, clientLabel(user)));
      }));
      foundStatus.textContent = `${plural(page.total, 'client')} ${q ? 'found' : 'in all'}${page.total > results.length ? `; the first ${results.length} are listed` : ''}.`;
    } catch (error) {
      if (mine === ticket) foundStatus.textContent = `The search failed: ${error.message}`;
    }
  };
  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => find(search.value.trim()), 250);
  });
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      clearTimeout(timer);
      find(search.value.trim());
    }
  });
  recipients.querySelector('.add-all').addEventListener('click', () => {
    for (const user of results) chosen.set(user.id, user);
    for (const box of found.querySelectorAll('input[type="checkbox"]')) box.checked = true;
    drawChosen();
  });
  everyone.addEventListener('change', () => {
    recipients.querySelector('.choose').hidden = everyone.checked;
    label();
  });
  form.elements.communication_date.addEventListener('input', label);
  find('');
  label();

  onSubmit(form, async (values) => {
    const body = {
      department_id: values.department_id,
      communication_type_id: values.communication_type_id,
      message: values.message ?? '',
    };
    if (values.communication_source_id) body.communication_source_id = values.communication_source_id;
    const date = toRfc3339(values.communication_date);
    if (date) body.communication_date = date;
    if (everyone.checked) body.all_users = true;
    else body.user_ids = [...chosen.keys()];
    const { data } = await api.request('POST', '/communications/bulk', { body });
    keepReceipt(data);
    navigate(`/batches/${data.batch_id}`);
  });

  return h(
    'section',
    { class: 'bulk-view' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Bulk send'), h('div', { class: 'actions' }, h('a', { class: 'btn', href: '#/send' }, 'Send to one'))),
    form,
  );
}

export async function batchView({ params }) {
  const id = params.id;
  const receipt = receiptOf(id);
  let batch;
  try {
    batch = await api.get(`/batches/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 404 && receipt) {
      // Every client was refused: the batch has no communication.
      batch = { batch_id: id, total: 0, counts: Object.fromEntries(STATUSES.map((s) => [s, 0])) };
    } else if (error instanceof api.ApiError && error.status === 404) {
      return h('section', {}, h('h1', {}, 'Batch not found'), h('p', {}, 'No communication has this batch id.'));
    } else {
      throw error;
    }
  }
  const state = h('p', { class: 'batch-state', role: 'status' });
  const bars = h('div', { class: 'batch-bars' });
  const draw = (current) => {
    const { total, counts } = current;
    const pending = counts.not_sent;
    const done = total - pending;
    if (pending > 0) {
      state.replaceChildren(h('span', { class: 'spinner', 'aria-hidden': 'true' }), `Sending: ${done} of ${total} processed, ${pending} pending…`);
    } else {
      const parts = STATUSES.filter((s) => counts[s]).map((s) => `${counts[s]} ${STATUS_LABELS[s].toLowerCase()}`);
      state.replaceChildren(`Nothing is pending: ${parts.join(', ') || 'nothing'}${counts.booked ? ' (the booked ones are sent at their moment)' : ''}.`);
    }
    state.classList.toggle('busy', pending > 0);
    bars.replaceChildren(
      h('div', { class: 'overall' }, progress('Processed', done, total)),
      ...STATUSES.map((status) => {
        const bar = progress(STATUS_LABELS[status], counts[status], total);
        bar.classList.add(`bar-${status}`);
        if (!counts[status]) bar.classList.add('zero');
        return bar;
      }),
    );
    return pending;
  };
  draw(batch);

  const refusedBox = h('div', { class: 'refused-box' });
  if (receipt) {
    if (receipt.refused.length) {
      const names = new Map();
      const rows = table(
        [
          ['Client', (r) => {
            const cell = h('a', { href: `#/clients/${encodeURIComponent(r.user_id)}` }, short(r.user_id));
            names.set(r.user_id, [...(names.get(r.user_id) || []), cell]);
            return cell;
          }],
          ['Why', (r) => `${reasonSentence(r.reason)}.`],
          ['Next free slot', (r) => (r.next_available_at ? when(r.next_available_at) : '—')],
        ],
        receipt.refused,
        { caption: `${plural(receipt.refused.length, 'client')} refused` },
      );
      labelCells(rows, 'comm-table');
      clientsById([...names.keys()]).then((found) => {
        for (const [userId, cells] of names) {
          const user = found.get(userId);
          if (user) cells.forEach((cell) => { cell.textContent = clientName(user); });
        }
      });
      refusedBox.append(h('h2', {}, 'Refused'), rows);
    } else {
      refusedBox.append(h('p', { class: 'muted' }, 'No client was refused.'));
    }
  } else {
    refusedBox.append(h('p', { class: 'muted' }, 'The refused clients, if any, are listed only in the tab that made the bulk send.'));
  }

  const root = h(
    'section',
    { class: 'batch-view' },
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, `Batch ${short(id)}`),
      h('div', { class: 'actions' }, h('a', { class: 'btn', href: `#/communications?batch_id=${encodeURIComponent(id)}` }, 'Its communications')),
    ),
    receipt
      ? notice(`${plural(receipt.accepted, 'communication')} accepted${receipt.refused.length ? `, ${plural(receipt.refused.length, 'client')} refused` : ''}, ${localText(receipt.at)}.`, 'info')
      : null,
    h('div', { class: 'card' }, h('h2', {}, `Progress of ${plural(batch.total, 'communication')}`), state, bars),
    refusedBox,
  );
  if (batch.counts.not_sent > 0) {
    repeat(root, async () => (draw(await api.get(`/batches/${encodeURIComponent(id)}`)) > 0 ? 1000 : false), 1000);
  }
  return root;
}
