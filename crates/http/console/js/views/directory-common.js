// Helpers shared by the directory screens (clients, departments, types and
// channels, operators, API keys). Candidates for ui.js: `hashHref`,
// `pageOf`, `stackedTable`, `Messages`, `flash`/`takeFlash`, `conflictOnField`.

import * as api from '../api.js';
import { h, link, notice, table } from '../ui.js';

/** How many rows a list shows when the URL does not say. */
export const PAGE_SIZE = 25;

/** `#/path?name=value…` with empty values left out. */
export function hashHref(path, query = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

/** `{limit, offset}` of a list from the URL's query (`limit`, and `offset` or another name). */
export function pageOf(query, offsetName = 'offset') {
  const limit = Number.parseInt(query.limit, 10);
  const offset = Number.parseInt(query[offsetName], 10);
  return {
    limit: Number.isFinite(limit) && limit >= 1 ? Math.min(limit, 500) : PAGE_SIZE,
    offset: Number.isFinite(offset) && offset >= 0 ? offset : 0,
  };
}

/** Every item of a list, page after page (for the choices of a select). */
export async function loadAll(path) {
  const items = [];
  for (;;) {
    const page = await api.get(path, { limit: 500, offset: items.length });
    items.push(...page.items);
    if (!page.items.length || items.length >= page.total) return items;
  }
}

/**
 * ui.js's `table`, whose cells carry their column's heading so that, at a
 * phone's width, each row shows as a card of labelled lines (directory.css).
 */
export function stackedTable(columns, rows, options) {
  const element = table(columns, rows, options);
  const headings = columns.map(([heading]) => heading);
  for (const row of element.querySelectorAll('tbody tr')) {
    [...row.children].forEach((cell, index) => {
      if (headings[index]) cell.dataset.label = headings[index];
      else cell.classList.add('row-actions');
    });
  }
  element.classList.add('stack');
  return element;
}

/** Replaces the children of `element` with `children`: arrays flattened, null left out. */
export function put(element, ...children) {
  element.replaceChildren(
    ...children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false),
  );
  return element;
}

/** A place for the answers of a screen's actions: what was done, what was refused. */
export class Messages {
  constructor() {
    this.element = h('div', { class: 'messages' });
  }

  show(text, kind = 'success', ...extra) {
    const shown = notice(text, kind);
    put(shown, text, extra);
    this.element.replaceChildren(shown);
    return shown;
  }

  /** Shows why `error` was refused (or what went wrong); `prefix` says what was tried. */
  fail(error, prefix = '', ...extra) {
    if (!(error instanceof api.ApiError)) {
      console.error(error);
      return this.show(`${prefix}Something went wrong: ${error}`, 'error', ...extra);
    }
    if (error.status === 401) return null;
    const text = error.status === 404
      ? `${prefix}It no longer exists: it was deleted meanwhile.`
      : `${prefix}${error.message}`;
    return this.show(text, 'error', ...extra);
  }

  clear() {
    this.element.replaceChildren();
  }
}

let pending = null;

/** A message for the next screen (after `navigate`), shown once. */
export function flash(text, kind = 'success') {
  pending = { text, kind };
}

/** The message left by `flash`, as a notice, or null. */
export function takeFlash() {
  const message = pending;
  pending = null;
  return message ? notice(message.text, message.kind) : null;
}

/**
 * A `409` for a taken unique value ("Another resource already has this
 * code.") becomes a 422-like error on that field, so that the form shows it
 * beside the field; any other error is returned as it is.
 */
export function conflictOnField(error, names, message) {
  if (!(error instanceof api.ApiError) || error.status !== 409) return error;
  const detail = error.message || '';
  const name = names.find((candidate) => detail.includes(candidate));
  if (name) error.fields.set(name, message);
  return error;
}

/** Runs `action` for a button, disabling it meanwhile; refusals go to `messages`. */
export function act(messages, action, prefix = '') {
  return async (event) => {
    const target = event.currentTarget;
    target.disabled = true;
    try {
      await action(event);
    } catch (error) {
      messages.fail(error, prefix);
    } finally {
      if (target.isConnected) target.disabled = false;
    }
  };
}

/** A number typed in a field, or the text as it is (the API then says what is wrong). */
export function asNumber(text) {
  if (text === undefined || text === '') return undefined;
  const number = Number(text);
  return Number.isFinite(number) ? number : text;
}

/** The screen for an id that does not exist. */
export function notFound(what, href, back) {
  return h(
    'section',
    {},
    h('h1', {}, `No such ${what}`),
    notice(`This ${what} does not exist: it may have been deleted.`, 'error'),
    h('p', {}, link(href, back)),
  );
}

/** A short text for a list's caption: "3 of 120". */
export function countOf(page, noun) {
  return page.total === 1 ? `1 ${noun}` : `${page.total} ${noun}s`;
}
