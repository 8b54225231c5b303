// API keys of the public API: listed without secrets; a new key's secret is
// shown once, on the screen that created it, and is kept nowhere else (not
// in the URL, not in storage): leaving or reloading the screen forgets it.

import * as api from '../api.js';
import {
  button, confirmed, field, h, heading, notice, onSubmit, pager, when,
} from '../ui.js';
import {
  Messages, put, act, countOf, flash, hashHref, pageOf, stackedTable, takeFlash,
} from './directory-common.js';

export async function apiKeysView({ query, refresh }) {
  const { limit, offset } = pageOf(query);
  const page = await api.get('/api-keys', { limit, offset });
  const root = h('section', { class: 'directory' });
  const messages = new Messages();

  const revoke = (key) => act(messages, async () => {
    if (!confirmed(`Revoke the API key ${key.name}? Every request made with it is refused from now on; this cannot be undone.`)) return;
    await api.del(`/api-keys/${key.id}`);
    flash(`The API key ${key.name} is revoked: requests made with it are refused.`);
    await refresh();
  }, `${key.name} is not revoked: `);

  const create = onSubmit(
    h(
      'form',
      { class: 'card', 'aria-labelledby': 'new-key-title', novalidate: true },
      h('h2', { id: 'new-key-title' }, 'New API key'),
      h(
        'div',
        { class: 'row inline' },
        field('Key name', { name: 'name', autocomplete: 'off', placeholder: 'e.g. billing service' }),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Create API key')),
      ),
    ),
    async (values) => {
      const created = await api.post('/api-keys', { name: values.name ?? '' });
      showCreated(root, created, refresh);
    },
  );

  put(
    root,
    heading('API keys'),
    takeFlash(),
    messages.element,
    h('p', { class: 'muted' }, 'Other systems call the public API (/api/public/v1) with a key and its secret, sent as the X-Api-Key and X-Api-Secret headers.'),
    stackedTable(
      [
        ['Name', (key) => h('strong', {}, key.name)],
        ['API key', (key) => h('code', { class: 'key' }, key.api_key)],
        ['Created', (key) => when(key.created_at)],
        ['Last used', (key) => (key.last_used_at ? when(key.last_used_at) : 'never')],
        ['', (key) => button('Revoke', revoke(key), { class: 'btn danger', 'aria-label': `Revoke ${key.name}` })],
      ],
      page.items,
      { caption: countOf(page, 'API key'), empty: 'No API keys: create one for each system that calls the public API.' },
    ),
    page.total > 0 ? pager(page, (to) => hashHref('/api-keys', { limit: query.limit, offset: to })) : null,
    create,
  );
  return root;
}

/** Copies the value of `input`; answers whether it worked. */
async function copy(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    input.focus();
    input.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

function copyable(label, what, value, hint) {
  const wrapper = field(label, {
    name: what.replace(/[^A-Za-z]+/g, '_').toLowerCase(),
    value,
    readonly: true,
    spellcheck: 'false',
    autocomplete: 'off',
    class: 'secret',
    hint,
  });
  const input = wrapper.querySelector('input');
  input.addEventListener('focus', () => input.select());
  const status = h('span', { class: 'copied', role: 'status' });
  const line = h('div', { class: 'copy-line' });
  input.replaceWith(line);
  line.append(
    input,
    button(`Copy ${what}`, async () => {
      status.textContent = (await copy(input)) ? `The ${what} is copied.` : 'Select the text and copy it with your keyboard.';
    }),
  );
  wrapper.append(status);
  return wrapper;
}

/** The new key, with its secret, this once. */
function showCreated(root, created, refresh) {
  const warning = notice(
    'Copy the secret now: it is shown this once. It is stored only as a hash and cannot be shown again, '
      + 'not even here: leaving or reloading this screen forgets it. If it is lost, revoke the key and create another.',
    'warning',
  );
  warning.setAttribute('role', 'alert');
  const done = button('I have stored the secret: back to API keys', () => refresh(), { class: 'btn primary' });
  put(
    root,
    heading('API key created'),
    h(
      'div',
      { class: 'card created-key' },
      warning,
      h('dl', { class: 'facts' }, h('dt', {}, 'Name'), h('dd', {}, h('strong', {}, created.name)), h('dt', {}, 'Created'), h('dd', {}, when(created.created_at))),
      copyable('API key (X-Api-Key)', 'API key', created.api_key),
      copyable('Secret (X-Api-Secret)', 'secret', created.secret_api_key, 'Keep it like a password.'),
      h('div', { class: 'actions' }, done),
    ),
  );
  root.querySelector('h1').setAttribute('tabindex', '-1');
  root.querySelector('h1').focus();
}
