// Send or book one communication: the form, then what dispatch would do
// with it and the client's next free slot (`POST /communications/preview`,
// `GET /users/{id}/next-slot`) before anything is sent; then the send
// (`POST /communications`, 202) and its page. A booking the rules refuse
// (409) says why and offers the client's next free slot.

import * as api from '../api.js';
import { button, clearErrors, field, h, notice, onSubmit, showErrors, toLocalInput, toRfc3339, when } from '../ui.js';
import {
  choices, clientPicker, flash, loadDictionaries, localText, moment, reasonSentence, reasonText,
} from './communication-shared.js';
import { refusal } from './communications.js';

/** The body of a send from the form's values, named as the API's fields. */
export function sendBody(chosen) {
  const body = {
    user_id: chosen.user_id,
    department_id: chosen.department_id,
    communication_type_id: chosen.communication_type_id,
    message: chosen.message ?? '',
  };
  if (chosen.communication_source_id) body.communication_source_id = chosen.communication_source_id;
  const date = toRfc3339(chosen.communication_date);
  if (date) body.communication_date = date;
  return body;
}

/** Whether `iso` books (more than a second ahead) rather than sends now. */
export function books(iso) {
  return Boolean(iso) && new Date(iso).getTime() - Date.now() > 1000;
}

export async function sendView({ query, navigate }) {
  const dict = await loadDictionaries();
  const single = (list) => (list.length === 1 ? list[0].id : '');
  const form = h(
    'form',
    { class: 'card send-form', 'aria-labelledby': 'send-title', novalidate: true },
    h('h2', { id: 'send-title' }, 'The message'),
    clientPicker({ label: 'Client', name: 'user_id', required: true, pick: true, selected: query.user_id || '' }),
    h(
      'div',
      { class: 'row' },
      field('Department', { tag: 'select', name: 'department_id', required: true, value: query.department_id || single(dict.departments) },
        choices(dict.departments, 'Choose a department')),
      field('Type', { tag: 'select', name: 'communication_type_id', required: true, value: query.communication_type_id || '' },
        choices(dict.types, 'Choose a type')),
    ),
    h(
      'div',
      { class: 'row' },
      field('Channel', {
        tag: 'select',
        name: 'communication_source_id',
        value: query.communication_source_id || '',
        hint: 'Left to the department, its favourite channels for the type are tried in order.',
      }, choices(dict.sources, 'The department’s favourites')),
      field('Book for', {
        type: 'datetime-local',
        name: 'communication_date',
        hint: 'Leave empty to send now; a later moment books it.',
      }),
    ),
    field('Message', { tag: 'textarea', name: 'message', required: true, maxlength: 10000, rows: 5 }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Preview')),
  );
  if (!dict.departments.length) {
    form.prepend(notice('There is no department yet: create one (with its favourite channels) before sending.', 'info'));
  }

  const panel = h(
    'section',
    { class: 'card preview-panel', 'aria-labelledby': 'preview-title', 'aria-live': 'polite' },
    h('h2', { id: 'preview-title' }, 'Before sending'),
    h('p', { class: 'muted' }, 'Preview to see what would happen to this message — on which channel it would go, or why it would wait or fail — and when the client is next free. Nothing is sent until you confirm.'),
  );

  let previewed = null;
  const departmentName = () => {
    const id = form.elements.department_id.value;
    return id ? dict.department(id) : 'the department';
  };

  const send = async (body) => {
    const confirm = panel.querySelector('.confirm');
    if (confirm) confirm.disabled = true;
    try {
      const { data } = await api.request('POST', '/communications', { body });
      flash(data.status === 'booked'
        ? `Booked for ${localText(data.communication_date)}: the client’s slot is reserved.`
        : 'Accepted: it is in the queue and is sent in a moment.');
      navigate(`/communications/${data.id}`);
    } catch (error) {
      if (confirm) confirm.disabled = false;
      if (error instanceof api.ApiError && error.status === 409 && error.problem.reason) {
        const refused = refusal(error, `The booking for ${localText(body.communication_date)}`, (next) => button(
          'Book at the next free slot',
          () => {
            // The exact moment, not the input's minute.
            form.elements.communication_date.value = toLocalInput(next);
            send({ ...body, communication_date: next });
          },
          { class: 'btn primary' },
        ));
        panel.querySelector('.refusal')?.remove();
        // Trying the same moment again would be refused again.
        if (confirm) confirm.hidden = true;
        panel.append(refused);
        refused.querySelector('button')?.focus();
        return;
      }
      if (error instanceof api.ApiError && error.fields.size) {
        showErrors(form, error);
        return;
      }
      panel.append(notice(error.message, 'error'));
    }
  };

  const preview = async (chosen) => {
    // The API names one missing field at a time; say them all at once.
    const missing = ['user_id', 'department_id', 'communication_type_id'].filter((name) => !chosen[name]);
    if (missing.length) {
      showErrors(form, { message: '', fields: new Map(missing.map((name) => [name, 'is required'])) });
      return;
    }
    const body = sendBody(chosen);
    const [decision, slot] = await Promise.all([
      api.post('/communications/preview', body),
      body.user_id && body.department_id
        ? api.get(`/users/${encodeURIComponent(body.user_id)}/next-slot`, {
          department_id: body.department_id,
          after: body.communication_date,
        }).catch(() => null)
        : null,
    ]);
    previewed = JSON.stringify(body);
    const booking = books(body.communication_date);
    panel.classList.remove('stale');
    panel.replaceChildren(
      h('h2', { id: 'preview-title' }, 'Before sending'),
      decisionText(decision, body, booking, dict),
      slotText(slot, departmentName(), booking),
      h('p', { class: 'stale-note', hidden: true }, 'The form has changed since this preview: preview again.'),
      h(
        'div',
        { class: 'actions' },
        button(booking ? 'Book' : 'Send now', () => send(body), { class: 'btn primary confirm' }),
      ),
    );
    // On a narrow screen the panel is under the form.
    panel.scrollIntoView({ block: 'nearest' });
  };

  onSubmit(form, preview);

  // A change makes the preview stale: it must be done again before sending.
  const stale = () => {
    if (!previewed) return;
    let current;
    try {
      current = JSON.stringify(sendBody(Object.fromEntries(
        [...form.elements].filter((c) => c.name && c.value !== '').map((c) => [c.name, c.value]),
      )));
    } catch (error) {
      current = null;
    }
    const changed = current !== previewed;
    panel.classList.toggle('stale', changed);
    const note = panel.querySelector('.stale-note');
    if (note) note.hidden = !changed;
    const confirm = panel.querySelector('.confirm');
    if (confirm) confirm.hidden = changed;
  };
  form.addEventListener('input', stale);
  form.addEventListener('change', stale);
  form.addEventListener('reset', () => clearErrors(form));

  return h(
    'section',
    { class: 'send-view' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Send a communication'), h('div', { class: 'actions' }, h('a', { class: 'btn', href: '#/bulk' }, 'Send to many'))),
    h('div', { class: 'send-grid' }, form, panel),
  );
}

function decisionText(decision, body, booking, dict) {
  const channel = decision.channel ? dict.channel(decision.channel.code) : '';
  const at = booking ? `On ${localText(body.communication_date)} it would be` : 'It would be';
  switch (decision.action) {
    case 'send':
      return h(
        'div',
        { class: 'decision decision-send' },
        h('p', { class: 'verdict' }, h('strong', {}, booking ? 'Bookable.' : 'Sendable now.'), ` ${at} sent on ${channel}${decision.to ? ` to ${decision.to}` : ''}.`),
      );
    case 'defer':
      return h(
        'div',
        { class: 'decision decision-defer' },
        h('p', { class: 'verdict' }, h('strong', {}, 'It would wait'), ' until ', when(decision.not_before), '.'),
        h('p', { class: 'why' }, `${reasonSentence(decision.reason)}.`),
        booking ? h('p', { class: 'muted' }, 'A booking at this moment would be refused.') : null,
      );
    default:
      return h(
        'div',
        { class: 'decision decision-fail' },
        h('p', { class: 'verdict' }, h('strong', {}, 'It would fail'), `: ${reasonText(decision.reason)}.`),
        h('p', { class: 'muted' }, 'Sent anyway, it would be stored as failed.'),
      );
  }
}

function slotText(slot, department, booking) {
  if (!slot) return null;
  if (!slot.available_at) {
    return h('p', { class: 'slot' }, `The client has no free slot within the horizon: ${reasonText(slot.reason)}.`);
  }
  return h(
    'p',
    { class: 'slot' },
    `The client’s next free slot in ${department}${booking ? ' from that moment' : ''}: `,
    h('strong', {}, moment(slot.available_at)),
    '.',
  );
}
