// Departments: their list, and each one's name, favourite channels per type
// (in priority order) and contact rules.

import * as api from '../api.js';
import {
  badge, button, clearErrors, confirmed, field, h, heading, link, onSubmit, pager, showErrors, uid, when,
} from '../ui.js';
import {
  Messages, put, act, asNumber, countOf, flash, hashHref, loadAll, notFound, pageOf, stackedTable, takeFlash,
} from './directory-common.js';

/** The favourite channels' editor on screen with unsaved changes, if any. */
let unsaved = null;
window.addEventListener('beforeunload', (event) => {
  if (unsaved && unsaved.isConnected) event.preventDefault();
});

const UNITS = [['second', 'Second'], ['minute', 'Minute'], ['hour', 'Hour'], ['day', 'Day']];

export async function departmentsView({ query, navigate }) {
  const { limit, offset } = pageOf(query);
  const page = await api.get('/departments', { limit, offset });
  const create = onSubmit(
    h(
      'form',
      { class: 'card', 'aria-labelledby': 'new-department-title', novalidate: true },
      h('h2', { id: 'new-department-title' }, 'New department'),
      h(
        'div',
        { class: 'row inline' },
        field('Department name', { name: 'name', autocomplete: 'off' }),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Create department')),
      ),
    ),
    async (body) => {
      const department = await api.post('/departments', { name: body.name ?? '' });
      flash(`The department ${department.name} is created: choose its favourite channels and rules.`);
      navigate(`/departments/${department.id}`);
    },
  );
  return h(
    'section',
    { class: 'directory' },
    heading('Departments'),
    takeFlash(),
    stackedTable(
      [
        ['Name', (department) => link(`#/departments/${department.id}`, department.name)],
        ['Created', (department) => when(department.created_at)],
        ['Updated', (department) => when(department.updated_at)],
      ],
      page.items,
      { caption: countOf(page, 'department'), empty: 'No departments yet.' },
    ),
    page.total > 0 ? pager(page, (to) => hashHref('/departments', { limit: query.limit, offset: to })) : null,
    create,
  );
}

export async function departmentView({ params, query, navigate }) {
  const id = encodeURIComponent(params.id);
  let department;
  let types;
  let sources;
  let favorites;
  try {
    [department, types, sources, favorites] = await Promise.all([
      api.get(`/departments/${id}`),
      loadAll('/communication-types'),
      loadAll('/communication-sources'),
      api.get(`/departments/${id}/favorite-sources`),
    ]);
  } catch (error) {
    if (error.status === 404) return notFound('department', '#/departments', 'Back to departments');
    throw error;
  }
  const messages = new Messages();
  const head = heading(
    department.name,
    link(hashHref('/communications', { department_id: department.id }), 'Communications', { class: 'btn' }),
    button('Delete department', act(messages, async () => {
      if (!confirmed(`Delete the department ${department.name} with its favourite channels and rules? This cannot be undone.`)) return;
      try {
        await api.del(`/departments/${department.id}`);
      } catch (error) {
        if (error.status === 409) {
          messages.show(`${department.name} cannot be deleted: the department's communications are kept.`, 'error');
          return;
        }
        throw error;
      }
      flash(`The department ${department.name} is deleted.`);
      navigate('/departments');
    }, 'The department is not deleted: '), { class: 'btn danger' }),
  );
  const title = head.querySelector('h1');

  const renamed = h('div', { class: 'result', role: 'status' });
  const rename = onSubmit(
    h(
      'form',
      { class: 'card rename-department', 'aria-label': 'Rename the department', novalidate: true },
      h(
        'div',
        { class: 'row inline' },
        field('Name', { name: 'name', value: department.name, autocomplete: 'off' }),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Rename')),
      ),
      renamed,
    ),
    async (body) => {
      renamed.replaceChildren();
      department = await api.patch(`/departments/${department.id}`, { name: body.name ?? '' });
      title.textContent = department.name;
      renamed.replaceChildren(h('p', { class: 'saved' }, 'Renamed.'));
    },
  );

  const rules = await rulesSection(department, types, query);
  return h(
    'section',
    { class: 'directory' },
    head,
    takeFlash(),
    messages.element,
    h('p', { class: 'muted' }, 'Created ', when(department.created_at), ' · updated ', when(department.updated_at)),
    rename,
    favoritesEditor(department, types, sources, favorites.items),
    rules,
  );
}

function typeLabel(type) {
  return type ? `${type.name}${type.status === 'blocked' ? ' (blocked)' : ''}` : 'Unknown type';
}

function sourceLabel(source) {
  return source ? `${source.name} (${source.kind}${source.status === 'blocked' ? ', blocked' : ''})` : 'Unknown channel';
}

/** The code and kind of a channel, once when they are the same. */
function channelDetail(source) {
  return source.code === source.kind ? source.code : `${source.code} · ${source.kind}`;
}

/**
 * The favourite channels, edited here and saved as a whole list
 * (`PUT …/favorite-sources`): per type, the order is the priority.
 */
function favoritesEditor(department, types, sources, stored) {
  const typeById = new Map(types.map((type) => [type.id, type]));
  const sourceById = new Map(sources.map((source) => [source.id, source]));
  /** type id → source ids in priority order, types in the order of `types`. */
  let groups = new Map();
  let savedState = '';
  const load = (items) => {
    const byType = new Map();
    for (const item of [...items].sort((a, b) => a.priority - b.priority)) {
      if (!byType.has(item.communication_type_id)) byType.set(item.communication_type_id, []);
      byType.get(item.communication_type_id).push(item.communication_source_id);
    }
    groups = new Map();
    for (const type of types) if (byType.has(type.id)) groups.set(type.id, byType.get(type.id));
    for (const [typeId, list] of byType) if (!groups.has(typeId)) groups.set(typeId, list);
    savedState = JSON.stringify([...groups]);
  };
  load(stored);
  const flat = () => [...groups].flatMap(([typeId, list]) => list.map((sourceId, index) => ({
    communication_type_id: typeId, communication_source_id: sourceId, priority: index + 1,
  })));

  const messages = new Messages();
  const listing = h('div', { class: 'favorite-groups' });
  const state = h('p', { class: 'unsaved', role: 'status' });
  const key = (typeId, sourceId) => `${typeId}:${sourceId}`;

  function render(focus) {
    const dirty = JSON.stringify([...groups]) !== savedState;
    state.textContent = dirty ? 'You have unsaved changes: save them to apply them.' : '';
    unsaved = dirty ? listing : null;
    discard.disabled = !dirty;
    const parts = [];
    for (const [typeId, list] of groups) {
      if (!list.length) continue;
      const type = typeById.get(typeId);
      const headingId = uid('favorites-type');
      parts.push(h(
        'div',
        { class: 'favorite-group', dataset: { type: typeId } },
        h('h3', { id: headingId }, typeLabel(type)),
        h('ol', { class: 'favorite-list', 'aria-labelledby': headingId }, list.map((sourceId, index) => {
          const source = sourceById.get(sourceId);
          const name = source ? source.name : 'Unknown channel';
          const typeName = type ? type.name : 'this type';
          return h(
            'li',
            { class: 'favorite', dataset: { key: key(typeId, sourceId) } },
            h('span', { class: 'position', 'aria-hidden': 'true' }, String(index + 1)),
            h(
              'span',
              { class: 'favorite-name' },
              h('strong', {}, name),
              h('span', { class: 'muted' }, ` ${source ? channelDetail(source) : sourceId}`),
              source && source.status === 'blocked' ? [' ', badge('blocked')] : null,
            ),
            h(
              'span',
              { class: 'favorite-actions' },
              button('Up', () => move(typeId, index, -1), {
                'aria-label': `Up: try ${name} earlier for ${typeName}`, disabled: index === 0, dataset: { action: 'up' },
              }),
              button('Down', () => move(typeId, index, 1), {
                'aria-label': `Down: try ${name} later for ${typeName}`, disabled: index === list.length - 1, dataset: { action: 'down' },
              }),
              button('Remove', () => remove(typeId, index), {
                class: 'btn danger', 'aria-label': `Remove ${name} from ${typeName}`, dataset: { action: 'remove' },
              }),
            ),
            h('p', { class: 'field-error', hidden: true }),
          );
        })),
      ));
    }
    const without = types.filter((type) => !(groups.get(type.id) || []).length);
    put(
      listing,
      parts.length ? parts : h('p', { class: 'muted empty' }, 'No favourite channels yet: add one below.'),
      without.length
        ? h('p', { class: 'muted' }, `No favourite channel for: ${without.map((type) => type.name).join(', ')}. `
          + 'Communications of these types fail with no_channel unless the sender names a channel.')
        : null,
    );
    if (focus) {
      const item = listing.querySelector(`[data-key="${CSS.escape(focus.key)}"]`);
      const target = item && ([...item.querySelectorAll(focus.actions.map((a) => `[data-action="${a}"]`).join(','))]
        .sort((a, b) => focus.actions.indexOf(a.dataset.action) - focus.actions.indexOf(b.dataset.action))
        .find((candidate) => !candidate.disabled));
      (target || addForm.querySelector('select')).focus();
    }
  }

  function move(typeId, index, step) {
    const list = groups.get(typeId);
    const to = index + step;
    if (to < 0 || to >= list.length) return;
    [list[index], list[to]] = [list[to], list[index]];
    messages.clear();
    const action = step < 0 ? 'up' : 'down';
    render({ key: key(typeId, list[to]), actions: [action, action === 'up' ? 'down' : 'up'] });
  }

  function remove(typeId, index) {
    const list = groups.get(typeId);
    list.splice(index, 1);
    messages.clear();
    const next = list[index] ?? list[index - 1];
    render(next ? { key: key(typeId, next), actions: ['remove'] } : { key: '', actions: [] });
  }

  const addForm = h(
    'form',
    { class: 'add-favorite', 'aria-labelledby': 'add-favorite-title', novalidate: true },
    h('h3', { id: 'add-favorite-title' }, 'Add a favourite channel'),
    h(
      'div',
      { class: 'row inline' },
      field('Communication type', { tag: 'select', name: 'communication_type_id' }, types.map((type) => [type.id, typeLabel(type)])),
      field('Channel', { tag: 'select', name: 'communication_source_id' }, sources.map((source) => [source.id, sourceLabel(source)])),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn' }, 'Add channel')),
    ),
  );
  addForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const typeId = addForm.elements.communication_type_id.value;
    const sourceId = addForm.elements.communication_source_id.value;
    if (!typeId || !sourceId) return;
    const list = groups.get(typeId) || [];
    if (list.includes(sourceId)) {
      showErrors(addForm, {
        message: '',
        fields: new Map([['communication_source_id', 'is already a favourite channel for this type']]),
      });
      return;
    }
    clearErrors(addForm);
    if (!groups.has(typeId)) {
      // Keep the groups in the order of the types.
      groups.set(typeId, list);
      const order = types.map((type) => type.id);
      groups = new Map([...groups].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)));
    }
    list.push(sourceId);
    messages.clear();
    render();
    messages.show(`${sourceLabel(sourceById.get(sourceId))} is added to ${typeLabel(typeById.get(typeId))}, last. Save to apply.`, 'info');
  });

  const save = button('Save favourite channels', async (event) => {
    const target = event.currentTarget;
    target.disabled = true;
    for (const slot of listing.querySelectorAll('.favorite .field-error')) slot.hidden = true;
    const items = flat();
    try {
      const answer = await api.put(`/departments/${department.id}/favorite-sources`, { items });
      load(answer.items);
      clearErrors(addForm);
      render();
      messages.show('The favourite channels are saved.', 'success');
    } catch (error) {
      if (error instanceof api.ApiError && error.status === 422) {
        const general = [];
        for (const [name, message] of error.fields) {
          const index = /^items\.(\d+)\./.exec(name);
          const item = index && items[Number(index[1])];
          const slot = item && listing.querySelector(
            `[data-key="${CSS.escape(key(item.communication_type_id, item.communication_source_id))}"] .field-error`,
          );
          if (slot) {
            slot.textContent = `${name.split('.').pop().replaceAll('_', ' ')} ${message}`;
            slot.hidden = false;
          } else general.push(`${name}: ${message}`);
        }
        messages.show(['The favourite channels are not saved.', ...general].join(' '), 'error');
      } else {
        messages.fail(error, 'The favourite channels are not saved: ');
      }
    } finally {
      target.disabled = false;
    }
  }, { class: 'btn primary' });
  const discard = button('Discard changes', () => {
    load(JSON.parse(savedState).flatMap(([typeId, list]) => list.map((sourceId, index) => ({
      communication_type_id: typeId, communication_source_id: sourceId, priority: index + 1,
    }))));
    messages.show('The changes are discarded.', 'info');
    render();
  });

  render();
  return h(
    'section',
    { class: 'card favorites', 'aria-labelledby': 'favorites-title' },
    h('h2', { id: 'favorites-title' }, 'Favourite channels'),
    h('p', { class: 'muted' }, 'For each type of communication, the channels tried in this order: the first one that can reach the client is used, the next ones if it fails.'),
    messages.element,
    listing,
    addForm,
    h('div', { class: 'actions save-bar' }, save, discard, state),
  );
}

function windowText(rule) {
  const unit = rule.units_count === 1 ? rule.unit : `${rule.units_count} ${rule.unit}s`;
  return `${rule.limit_per_unit} per ${unit}`;
}

/** The department's rules: how often one client may be contacted. */
async function rulesSection(department, types, query) {
  const typeById = new Map(types.map((type) => [type.id, type]));
  const { limit, offset } = pageOf(query, 'rules_offset');
  const base = `/departments/${department.id}/rules`;
  const messages = new Messages();
  const body = h('div', { class: 'rules-body' });
  const formSlot = h('div', { class: 'rule-form-slot' });
  let page;
  let editing = null;

  const appliesTo = (rule) => (rule.communication_type_id
    ? typeLabel(typeById.get(rule.communication_type_id))
    : 'All types');

  async function reload() {
    page = await api.get(base, { limit, offset });
    render();
  }

  function render() {
    put(
      body,
      stackedTable(
        [
          ['Limit', (rule) => h('span', {}, h('strong', {}, windowText(rule)), h('span', { class: 'muted' }, ' per client'))],
          ['Applies to', appliesTo],
          ['Updated', (rule) => when(rule.updated_at)],
          ['', (rule) => h(
            'span',
            { class: 'actions' },
            button('Edit', () => {
              editing = rule;
              showForm();
            }, { 'aria-label': `Edit the rule ${windowText(rule)} for ${appliesTo(rule)}` }),
            button('Delete', act(messages, async () => {
              if (!confirmed(`Delete the rule ${windowText(rule)} for ${appliesTo(rule)}?`)) return;
              await api.del(`${base}/${rule.id}`);
              if (editing && editing.id === rule.id) editing = null;
              await reload();
              showForm();
              messages.show(`The rule ${windowText(rule)} is deleted.`);
            }, 'The rule is not deleted: '), { class: 'btn danger', 'aria-label': `Delete the rule ${windowText(rule)} for ${appliesTo(rule)}` }),
          )],
        ],
        page.items,
        { caption: countOf(page, 'rule'), empty: 'No rules: clients of this department may be contacted without limit.' },
      ),
      page.total > limit || offset > 0
        ? pager(page, (to) => hashHref(`/departments/${department.id}`, { ...query, rules_offset: to }))
        : null,
    );
  }

  function showForm() {
    const rule = editing;
    const form = onSubmit(
      h(
        'form',
        { class: 'rule-form', 'aria-labelledby': 'rule-form-title', novalidate: true },
        h('h3', { id: 'rule-form-title' }, rule ? `Edit the rule ${windowText(rule)}` : 'Add a rule'),
        h(
          'div',
          { class: 'row' },
          field('Limit per unit', {
            type: 'number', name: 'limit_per_unit', min: 1, step: 1, inputmode: 'numeric',
            value: rule ? rule.limit_per_unit : '', hint: 'Communications one client may get in each window.',
          }),
          field('Units count', {
            type: 'number', name: 'units_count', min: 1, step: 1, inputmode: 'numeric',
            value: rule ? rule.units_count : 1, hint: 'The window is units count × unit.',
          }),
          field('Unit', { tag: 'select', name: 'unit', value: rule ? rule.unit : 'day' }, UNITS),
          field(
            'Applies to',
            { tag: 'select', name: 'communication_type_id', value: rule ? rule.communication_type_id ?? '' : '' },
            [['', 'All types'], ...types.map((type) => [type.id, typeLabel(type)])],
          ),
        ),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit', class: 'btn primary' }, rule ? 'Save rule' : 'Add rule'),
          rule ? button('Cancel', () => {
            editing = null;
            showForm();
            formSlot.querySelector('input').focus();
          }) : null,
        ),
      ),
      async (values) => {
        const request = {
          limit_per_unit: asNumber(values.limit_per_unit),
          unit: values.unit,
          units_count: asNumber(values.units_count),
          communication_type_id: values.communication_type_id || null,
        };
        if (rule) await api.patch(`${base}/${rule.id}`, request);
        else await api.post(base, request);
        editing = null;
        await reload();
        showForm();
        messages.show(rule ? 'The rule is saved.' : `The rule ${windowText(request)} is added.`);
      },
    );
    formSlot.replaceChildren(form);
    if (rule) form.querySelector('input').focus();
  }

  await reload();
  showForm();
  return h(
    'section',
    { class: 'card rules', 'aria-labelledby': 'rules-title' },
    h('h2', { id: 'rules-title' }, 'Rules'),
    h('p', { class: 'muted' }, 'How often one client may be contacted by this department: every rule must hold, counting sent and booked communications.'),
    messages.element,
    body,
    formSlot,
  );
}
