// DOM helpers shared by the views. Text is always set as text, never as
// HTML, so nothing a client or an operator typed can run as script.

let ids = 0;

/** `h('a', {href: '#/x', class: 'btn', onclick: f}, 'text', child…)`. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name === 'text') element.textContent = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function uid(prefix = 'f') {
  ids += 1;
  return `${prefix}-${ids}`;
}

/**
 * A labelled form field: `field('Phone', {name: 'phone', type: 'tel'})`.
 * `input.tag` picks `select` or `textarea`; `options` fills a select with
 * `[value, label]` pairs. The field's error is shown under it and named by
 * `aria-describedby`.
 */
export function field(label, input = {}, options = []) {
  const { tag = 'input', hint, ...attrs } = input;
  const id = attrs.id || uid(attrs.name || 'f');
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const control = h(tag, { ...attrs, id, 'aria-describedby': `${id}-error` });
  if (tag === 'select') {
    for (const [value, text] of options) {
      control.append(h('option', { value, selected: String(value) === String(attrs.value ?? '') }, text));
    }
  }
  if (tag === 'textarea' && attrs.value !== undefined) control.value = attrs.value;
  return h(
    'div',
    { class: 'field', dataset: { field: attrs.name || '' } },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { class: 'hint' }, hint) : null,
    error,
  );
}

/** The values of a form's named controls; empty strings left out. */
export function values(form) {
  const result = {};
  for (const control of form.elements) {
    if (!control.name || control.disabled) continue;
    if (control.type === 'checkbox') result[control.name] = control.checked;
    else if (control.value !== '') result[control.name] = control.value;
  }
  return result;
}

/** Clears the messages a previous answer left on `form`. */
export function clearErrors(form) {
  for (const element of form.querySelectorAll('.field-error, .form-error')) {
    element.textContent = '';
    element.hidden = true;
  }
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

/**
 * Shows an ApiError on `form`: each 422 message beside its field (matched
 * by name, or by the last part of a dotted name), the rest at the top.
 */
export function showErrors(form, error) {
  clearErrors(form);
  const general = [];
  for (const [name, message] of error.fields || []) {
    const control = form.querySelector(`[name="${CSS.escape(name)}"]`)
      || form.querySelector(`[name="${CSS.escape(name.split('.').pop())}"]`);
    const slot = control && form.querySelector(`#${CSS.escape(control.id)}-error`);
    if (slot) {
      control.setAttribute('aria-invalid', 'true');
      slot.textContent = message;
      slot.hidden = false;
    } else {
      general.push(`${name}: ${message}`);
    }
  }
  let top = form.querySelector('.form-error');
  if (!top) {
    top = h('div', { class: 'form-error', role: 'alert' });
    form.prepend(top);
  }
  const detail = error.fields && error.fields.size ? 'Some fields need attention.' : error.message;
  top.textContent = [detail, ...general].join(' ');
  top.hidden = false;
  const invalid = form.querySelector('[aria-invalid="true"]');
  (invalid || top).focus?.();
}

/** Runs `action` on submit, disabling the form's buttons while it runs. */
export function onSubmit(form, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = [...form.querySelectorAll('button')];
    buttons.forEach((button) => { button.disabled = true; });
    clearErrors(form);
    try {
      await action(values(form), form);
    } catch (error) {
      if (error && error.status !== undefined) showErrors(form, error);
      else throw error;
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  });
  return form;
}

/** A table; `columns` are `[heading, row => cell]`. */
export function table(columns, rows, { caption, empty = 'Nothing yet.' } = {}) {
  if (!rows.length) return h('p', { class: 'muted empty' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map(([heading]) => h('th', { scope: 'col' }, heading)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(row)))))),
    ),
  );
}

/** Previous / next links over a list answer `{total, limit, offset}`. */
export function pager(page, hrefFor) {
  const { total, limit, offset } = page;
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, total);
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    h('span', { class: 'muted' }, `${from}–${to} of ${total}`),
    offset > 0 ? h('a', { class: 'btn', href: hrefFor(Math.max(0, offset - limit)), rel: 'prev' }, 'Previous') : null,
    offset + limit < total ? h('a', { class: 'btn', href: hrefFor(offset + limit), rel: 'next' }, 'Next') : null,
  );
}

/** A local date and time, with the exact moment in the title. */
export function when(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return h('time', { datetime: iso, title: iso }, date.toLocaleString());
}

/** The value of a `datetime-local` input as RFC 3339, or undefined. */
export function toRfc3339(local) {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? local : date.toISOString();
}

/** An RFC 3339 moment as the value of a `datetime-local` input. */
export function toLocalInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function badge(status) {
  return h('span', { class: `badge badge-${status}` }, status ? status.replace('_', ' ') : '—');
}

/** A notice at the top of the view: `kind` is `info`, `success` or `error`. */
export function notice(text, kind = 'info') {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** A progress bar with its label, `value` of `max`. */
export function progress(label, value, max) {
  const id = uid('progress');
  return h(
    'div',
    { class: 'progress' },
    h('label', { for: id }, `${label}: ${value} of ${max}`),
    h('progress', { id, value, max: Math.max(max, 1) }),
  );
}

/** A page heading with optional actions on its right. */
export function heading(text, ...actions) {
  return h('div', { class: 'page-head' }, h('h1', {}, text), h('div', { class: 'actions' }, actions));
}

export function link(href, text, props = {}) {
  return h('a', { href, ...props }, text);
}

export function button(text, onclick, props = {}) {
  return h('button', { type: 'button', class: 'btn', onclick, ...props }, text);
}

/** Asks before a destructive action. */
export function confirmed(question) {
  return window.confirm(question);
}
