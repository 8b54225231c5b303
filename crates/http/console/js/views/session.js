// Logging in and out, and changing one's password.

import * as api from '../api.js';
import { field, h, heading, notice, onSubmit } from '../ui.js';

export async function loginView({ query, navigate }) {
  if (api.hasSession()) {
    navigate(query.next || '/');
    return h('p', {}, 'Signed in.');
  }
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Log in to omnichannel'),
    query.expired ? notice('Your session has ended: log in again.', 'info') : null,
    field('Username', { name: 'username', autocomplete: 'username', required: true, autofocus: true }),
    field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    h('button', { type: 'submit', class: 'btn primary' }, 'Log in'),
  );
  return onSubmit(form, async ({ username = '', password = '' }) => {
    await api.login(username, password);
    navigate(query.next && query.next !== '/login' ? query.next.split('?')[0] : '/', Object.fromEntries(new URLSearchParams((query.next || '').split('?')[1] || '')));
  });
}

export async function accountView({ navigate }) {
  const me = await api.get('/auth/me');
  const result = h('div', { class: 'result' });
  const form = onSubmit(
    h(
      'form',
      { class: 'card', 'aria-labelledby': 'password-title' },
      h('h2', { id: 'password-title' }, 'Change your password'),
      field('Current password', { name: 'current_password', type: 'password', autocomplete: 'current-password', required: true }),
      field('New password', { name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, hint: 'At least 12 characters.' }),
      h('button', { type: 'submit', class: 'btn primary' }, 'Change password'),
      result,
    ),
    async (body, formElement) => {
      await api.post('/auth/password', body);
      formElement.reset();
      result.replaceChildren(notice('Your password is changed. Other sessions are logged out.', 'success'));
    },
  );
  return h(
    'section',
    {},
    heading(
      'Account',
      h('button', {
        type: 'button',
        class: 'btn',
        onclick: async () => {
          await api.logout();
          navigate('/login');
        },
      }, 'Log out'),
    ),
    h('p', {}, 'Signed in as ', h('strong', { class: 'username' }, me.username), '.'),
    form,
  );
}
