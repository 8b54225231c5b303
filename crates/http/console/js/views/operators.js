// Operators: the admin accounts that log in to this console and the admin API.

import * as api from '../api.js';
import {
  button, confirmed, field, h, heading, link, onSubmit, pager, when,
} from '../ui.js';
import {
  Messages, act, conflictOnField, countOf, flash, hashHref, pageOf, stackedTable, takeFlash,
} from './directory-common.js';

export async function operatorsView({ query, navigate, refresh }) {
  const { limit, offset } = pageOf(query);
  const [page, me] = await Promise.all([api.get('/admins', { limit, offset }), api.get('/auth/me')]);
  const messages = new Messages();

  const remove = (operator) => act(messages, async () => {
    const self = operator.id === me.id;
    const question = self
      ? `Delete your own account ${operator.username}? You will be logged out and cannot log in again with it.`
      : `Delete the operator ${operator.username}? They can no longer log in.`;
    if (!confirmed(question)) return;
    try {
      await api.del(`/admins/${operator.id}`);
    } catch (error) {
      if (error.status === 409) {
        messages.show(
          `${operator.username} cannot be deleted: it is the last operator, and somebody must always be able to log in. `
            + 'Create another operator first.',
          'error',
        );
        return;
      }
      throw error;
    }
    if (self) {
      await api.logout();
      navigate('/login');
      return;
    }
    flash(`The operator ${operator.username} is deleted.`);
    await refresh();
  }, `${operator.username} is not deleted: `);

  const create = onSubmit(
    h(
      'form',
      { class: 'card', 'aria-labelledby': 'new-operator-title', novalidate: true },
      h('h2', { id: 'new-operator-title' }, 'New operator'),
      h(
        'div',
        { class: 'row' },
        field('Username', {
          name: 'username', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false',
          hint: 'Letters, digits and . _ @ -; kept in lower case.',
        }),
        field('Password', {
          name: 'password', type: 'password', autocomplete: 'new-password', hint: 'At least 12 characters. Tell it to the operator privately; they can change it under Account.',
        }),
      ),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Create operator')),
    ),
    async (values) => {
      let operator;
      try {
        operator = await api.post('/admins', { username: values.username ?? '', password: values.password ?? '' });
      } catch (error) {
        throw conflictOnField(error, ['username'], 'is already taken by another operator');
      }
      flash(`The operator ${operator.username} is created and can log in.`);
      await refresh();
    },
  );

  return h(
    'section',
    { class: 'directory' },
    heading('Operators'),
    takeFlash(),
    messages.element,
    stackedTable(
      [
        ['Username', (operator) => h(
          'span',
          {},
          h('strong', {}, operator.username),
          operator.id === me.id ? [' ', h('span', { class: 'badge' }, 'you')] : null,
        )],
        ['Created', (operator) => when(operator.created_at)],
        ['', (operator) => button('Delete', remove(operator), {
          class: 'btn danger', 'aria-label': `Delete ${operator.username}`,
        })],
      ],
      page.items,
      { caption: countOf(page, 'operator'), empty: 'No operators.' },
    ),
    page.total > 0 ? pager(page, (to) => hashHref('/operators', { limit: query.limit, offset: to })) : null,
    create,
    h('p', { class: 'muted' }, 'To change your own password, go to ', link('#/account', 'Account'), '.'),
  );
}
