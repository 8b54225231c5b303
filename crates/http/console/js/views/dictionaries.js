// The two dictionaries: communication types and channels (communication
// sources). Each can be created, renamed, blocked or unblocked, and deleted
// while nothing refers to it.

import * as api from '../api.js';
import {
  badge, button, confirmed, field, h, heading, onSubmit, pager, uid,
} from '../ui.js';
import {
  Messages, put, act, conflictOnField, countOf, hashHref, pageOf, stackedTable,
} from './directory-common.js';

const KINDS = [
  ['sms', 'SMS (uses the phone)'],
  ['messenger', 'Messenger (uses the phone)'],
  ['email', 'E-mail (uses the e-mail address)'],
  ['push', 'Push (uses the push token)'],
  ['webhook', 'Webhook (uses no address)'],
];

const DICTIONARIES = {
  type: {
    path: '/communication-types',
    offset: 'types_offset',
    title: 'Communication types',
    noun: 'type',
    label: 'Type',
    blockedMeans: 'communications of this type fail (type_blocked) until it is unblocked.',
    intro: 'What a communication is about. A blocked type cannot be sent.',
  },
  source: {
    path: '/communication-sources',
    offset: 'sources_offset',
    title: 'Channels',
    noun: 'channel',
    label: 'Channel',
    blockedMeans: 'dispatch skips it and tries the next favourite channel.',
    intro: 'The channels a communication can go out on; the provider of each is set in the configuration file. A blocked channel is skipped.',
  },
};

export async function dictionariesView({ query }) {
  const sections = await Promise.all([
    dictionarySection(DICTIONARIES.type, query),
    dictionarySection(DICTIONARIES.source, query),
  ]);
  return h('section', { class: 'directory' }, heading('Types & channels'), h('div', { class: 'dictionaries' }, sections));
}

async function dictionarySection(dictionary, query) {
  const { limit, offset } = pageOf(query, dictionary.offset);
  const isSource = dictionary === DICTIONARIES.source;
  const messages = new Messages();
  const body = h('div', { class: 'dictionary-body' });
  const titleId = uid('dictionary');
  let page;
  let renaming = null;

  async function reload() {
    page = await api.get(dictionary.path, { limit, offset });
    if (!page.items.length && offset > 0) {
      page = await api.get(dictionary.path, { limit, offset: 0 });
    }
  }

  /** Re-renders the table; `focus` is `[id, action]` of the button to focus. */
  function render(focus) {
    put(
      body,
      stackedTable(
        [
          ['Name', nameCell],
          ['Code', (entry) => h('code', {}, entry.code)],
          ...(isSource ? [['Kind', (entry) => entry.kind]] : []),
          ['Status', (entry) => badge(entry.status)],
          ['', actions],
        ],
        page.items,
        { caption: countOf(page, dictionary.noun), empty: `No ${dictionary.noun}s.` },
      ),
      page.total > limit || offset > 0
        ? pager(page, (to) => hashHref('/dictionaries', { ...query, [dictionary.offset]: to }))
        : null,
    );
    for (const row of body.querySelectorAll('tbody tr')) row.classList.add('entry');
    if (focus) {
      const [id, action] = focus;
      const target = body.querySelector(`[data-entry="${CSS.escape(id)}"][data-action="${action}"]`)
        || body.querySelector(`[data-entry="${CSS.escape(id)}"] input`);
      if (target) target.focus();
    }
  }

  function nameCell(entry) {
    if (!renaming || renaming !== entry.id) return entry.name;
    const form = onSubmit(
      h(
        'form',
        { class: 'rename', novalidate: true, dataset: { entry: entry.id } },
        field(`New name of ${entry.code}`, { name: 'name', value: entry.name, autocomplete: 'off' }),
        h(
          'span',
          { class: 'actions' },
          h('button', { type: 'submit', class: 'btn primary' }, 'Save name'),
          button('Cancel', () => {
            renaming = null;
            render([entry.id, 'rename']);
          }),
        ),
      ),
      async (values) => {
        const updated = await api.patch(`${dictionary.path}/${entry.id}`, { name: values.name ?? '' });
        Object.assign(entry, updated);
        renaming = null;
        render([entry.id, 'rename']);
        messages.show(`The ${dictionary.noun} ${entry.code} is renamed ${entry.name}.`);
      },
    );
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        renaming = null;
        render([entry.id, 'rename']);
      }
    });
    return form;
  }

  function actions(entry) {
    const blocked = entry.status === 'blocked';
    return h(
      'span',
      { class: 'actions' },
      button('Rename', () => {
        renaming = entry.id;
        messages.clear();
        render([entry.id, 'name']);
      }, { 'aria-label': `Rename ${entry.name}`, dataset: { entry: entry.id, action: 'rename' } }),
      button(blocked ? 'Unblock' : 'Block', act(messages, async () => {
        await setStatus(entry, blocked ? 'active' : 'blocked');
      }, `${entry.name} is not ${blocked ? 'unblocked' : 'blocked'}: `), {
        'aria-label': `${blocked ? 'Unblock' : 'Block'} ${entry.name}`,
        dataset: { entry: entry.id, action: 'status' },
      }),
      button('Delete', act(messages, async () => {
        if (!confirmed(`Delete the ${dictionary.noun} ${entry.name} (${entry.code})? This cannot be undone.`)) return;
        try {
          await api.del(`${dictionary.path}/${entry.id}`);
        } catch (error) {
          if (error.status !== 409) throw error;
          messages.show(
            `${entry.name} cannot be deleted: it is still referenced (by communications, favourite channels or rules). `
              + `Block it instead: ${dictionary.blockedMeans}`,
            'error',
            blocked ? null : button(`Block ${entry.name}`, act(messages, async () => {
              await setStatus(entry, 'blocked');
            }), { class: 'btn notice-action' }),
          );
          return;
        }
        await reload();
        render();
        messages.show(`The ${dictionary.noun} ${entry.name} is deleted.`);
      }, `${entry.name} is not deleted: `), {
        class: 'btn danger',
        'aria-label': `Delete ${entry.name}`,
        dataset: { entry: entry.id, action: 'delete' },
      }),
    );
  }

  async function setStatus(entry, status) {
    const updated = await api.patch(`${dictionary.path}/${entry.id}`, { status });
    Object.assign(entry, updated);
    render([entry.id, 'status']);
    messages.show(status === 'blocked'
      ? `${entry.name} is blocked: ${dictionary.blockedMeans}`
      : `${entry.name} is active again.`);
  }

  const create = onSubmit(
    h(
      'form',
      { class: 'create-entry', 'aria-labelledby': `${titleId}-new`, novalidate: true },
      h('h3', { id: `${titleId}-new` }, `New ${dictionary.noun}`),
      h(
        'div',
        { class: 'row' },
        field(`${dictionary.label} code`, {
          name: 'code', autocomplete: 'off', hint: 'Unique; lower-case letters, digits and _.',
        }),
        field(`${dictionary.label} name`, { name: 'name', autocomplete: 'off' }),
        isSource ? field('Channel kind', { tag: 'select', name: 'kind', value: 'sms' }, KINDS) : null,
      ),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, `Create ${dictionary.noun}`)),
    ),
    async (values, form) => {
      let created;
      try {
        created = await api.post(dictionary.path, { code: values.code ?? '', name: values.name ?? '', ...(isSource ? { kind: values.kind } : {}) });
      } catch (error) {
        throw conflictOnField(error, ['code'], `is already the code of another ${dictionary.noun}`);
      }
      form.reset();
      await reload();
      render();
      messages.show(`The ${dictionary.noun} ${created.name} (${created.code}) is created.`);
    },
  );

  await reload();
  render();
  return h(
    'section',
    { class: 'card dictionary', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, dictionary.title),
    h('p', { class: 'muted' }, dictionary.intro),
    messages.element,
    body,
    create,
  );
}
