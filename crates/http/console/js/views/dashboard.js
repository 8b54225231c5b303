// The dashboard: today's communications by status, the dispatch queue now,
// and the last 24 hours per hour, from `GET /communications/stats`.

import * as api from '../api.js';
import { h, heading, notice, table } from '../ui.js';
import { STATUSES, STATUS_LABELS, repeat, uid } from './communication-shared.js';

const SVG = 'http://www.w3.org/2000/svg';
const NARROW = '(max-width: 720px)';

/** The order the bars are stacked in, bottom first. */
const STACK = ['read', 'delivered', 'sent', 'not_sent', 'booked', 'failed', 'cancelled'];

function midnight() {
  const date = new Date();
  date.setHours(0, 0, 0, 0);
  return date.toISOString();
}

async function load() {
  const [today, day] = await Promise.all([
    api.get('/communications/stats', { from: midnight() }),
    api.get('/communications/stats'),
  ]);
  return { today, day };
}

export async function dashboardView() {
  const body = h('div', { class: 'dashboard' });
  let shown = '';
  const draw = (data) => {
    const key = JSON.stringify([data.today.by_status, data.today.queue, data.day.hourly.map((x) => x.by_status)]);
    if (key === shown) return;
    shown = key;
    body.replaceChildren(...content(data));
  };
  let last = await load();
  draw(last);
  const updated = h('p', { class: 'muted updated', 'aria-live': 'off' }, `Updated ${new Date().toLocaleTimeString()}; refreshed every 10 seconds.`);
  const root = h(
    'section',
    { class: 'dashboard-view' },
    heading(
      'Dashboard',
      h('a', { class: 'btn primary', href: '#/send' }, 'Send'),
      h('a', { class: 'btn', href: '#/bulk' }, 'Bulk send'),
    ),
    body,
    updated,
  );
  // A window that becomes narrow or wide gets a chart drawn for it.
  const media = window.matchMedia(NARROW);
  const redraw = () => {
    if (!root.isConnected) {
      media.removeEventListener('change', redraw);
      return;
    }
    shown = '';
    draw(last);
  };
  media.addEventListener('change', redraw);
  repeat(root, async () => {
    last = await load();
    draw(last);
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshed every 10 seconds.`;
    return 10000;
  }, 10000);
  return root;
}

function content({ today, day }) {
  const since = midnight();
  const total = STATUSES.reduce((sum, status) => sum + today.by_status[status], 0);
  return [
    h('h2', { id: 'today-title' }, `Today: ${total} communication${total === 1 ? '' : 's'}`),
    h(
      'div',
      { class: 'stats', role: 'list', 'aria-labelledby': 'today-title' },
      STATUSES.map((status) => h(
        'a',
        {
          class: `stat stat-${status}`,
          role: 'listitem',
          dataset: { status },
          href: `#/communications?${new URLSearchParams({ status, from: since })}`,
        },
        h('span', { class: 'value' }, String(today.by_status[status])),
        h('span', { class: 'label' }, STATUS_LABELS[status]),
      )),
    ),
    h('h2', { id: 'queue-title' }, 'The queue now'),
    h(
      'div',
      { class: 'stats queue', role: 'list', 'aria-labelledby': 'queue-title' },
      [
        ['due', 'Due', 'to be sent now', { status: 'not_sent' }],
        ['deferred', 'Deferred', 'waiting for a later moment or a retry', { status: 'not_sent' }],
        ['booked', 'Booked', 'reserved for a later moment', { status: 'booked' }],
      ].map(([key, label, hint, query]) => h(
        'a',
        { class: `stat queue-${key}`, role: 'listitem', dataset: { queue: key }, href: `#/communications?${new URLSearchParams(query)}` },
        h('span', { class: 'value' }, String(today.queue[key])),
        h('span', { class: 'label' }, label),
        h('span', { class: 'hint' }, hint),
      )),
    ),
    h('h2', { id: 'hourly-title' }, 'The last 24 hours, per hour'),
    chart(day.hourly),
  ];
}

function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function hourLabel(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
}

function axisLabel(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: 'numeric' });
}

function sum(counts) {
  return STATUSES.reduce((total, status) => total + (counts[status] || 0), 0);
}

/** The smallest of 1, 2, 5 × 10^k at least `value` (and at least 4). */
function roundUp(value) {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function describe(entry) {
  const parts = STATUSES.filter((status) => entry.by_status[status]).map(
    (status) => `${entry.by_status[status]} ${STATUS_LABELS[status].toLowerCase()}`,
  );
  const start = hourLabel(entry.hour);
  const end = hourLabel(new Date(new Date(entry.hour).getTime() + 3600000).toISOString());
  return `${start}–${end}: ${parts.length ? parts.join(', ') : 'none'}`;
}

/**
 * Stacked bars per hour, coloured by status with CSS classes, with a
 * legend, a title per bar, a summary for screen readers and the numbers
 * in a table.
 */
export function chart(hourly) {
  // Drawn for the width it has: on a phone, fewer and larger labels.
  const narrow = window.matchMedia(NARROW).matches;
  const width = narrow ? 400 : 960;
  const height = narrow ? 240 : 220;
  const left = 44;
  const right = 8;
  const top = 12;
  const bottom = 30;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const totals = hourly.map((entry) => sum(entry.by_status));
  const all = totals.reduce((a, b) => a + b, 0);
  const max = roundUp(Math.max(0, ...totals));
  const band = plotWidth / Math.max(hourly.length, 1);
  const barWidth = Math.max(2, band * 0.72);
  const y = (value) => top + plotHeight - (value / max) * plotHeight;

  const titleId = uid('chart-title');
  const descId = uid('chart-desc');
  let busiest = null;
  hourly.forEach((entry, i) => {
    if (totals[i] > 0 && (!busiest || totals[i] > busiest.total)) busiest = { entry, total: totals[i] };
  });
  const byStatus = STATUSES.map((status) => [status, hourly.reduce((n, e) => n + (e.by_status[status] || 0), 0)])
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${STATUS_LABELS[status].toLowerCase()}`);
  const summary = all === 0
    ? 'No communication was created in the last 24 hours.'
    : `${all} communications created in the last 24 hours: ${byStatus.join(', ')}. The busiest hour was ${hourLabel(busiest.entry.hour)}, with ${busiest.total}.`;

  const grid = [0, max / 2, max].map((value) => svg(
    'g',
    { class: 'grid' },
    svg('line', { x1: left, x2: width - right, y1: y(value), y2: y(value) }),
    svg('text', { x: left - 6, y: y(value), class: 'y-label', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, String(value)),
  ));

  const bars = hourly.map((entry, i) => {
    const x = left + i * band + (band - barWidth) / 2;
    let base = 0;
    const segments = [];
    for (const status of STACK) {
      const count = entry.by_status[status] || 0;
      if (!count) continue;
      segments.push(svg('rect', {
        class: `seg seg-${status}`,
        x: x.toFixed(1),
        y: y(base + count).toFixed(1),
        width: barWidth.toFixed(1),
        height: Math.max(0.5, (count / max) * plotHeight).toFixed(1),
      }));
      base += count;
    }
    const hourOfDay = new Date(entry.hour).getHours();
    const label = hourOfDay % (narrow ? 6 : 3) === 0
      ? svg('text', {
        x: (x + barWidth / 2).toFixed(1),
        y: height - bottom + 18,
        class: 'x-label',
        'text-anchor': 'middle',
      }, axisLabel(entry.hour))
      : null;
    // A transparent column over the whole band, so that the title shows
    // wherever the pointer is above the hour.
    const hit = svg('rect', { class: 'hit', x: (left + i * band).toFixed(1), y: top, width: band.toFixed(1), height: plotHeight });
    return svg('g', { class: 'bar' }, svg('title', {}, describe(entry)), hit, segments, label);
  });

  const picture = svg(
    'svg',
    {
      class: 'chart hourly',
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-labelledby': `${titleId} ${descId}`,
      preserveAspectRatio: 'xMidYMid meet',
    },
    svg('title', { id: titleId }, 'Communications created per hour over the last 24 hours, by status'),
    svg('desc', { id: descId }, summary),
    grid,
    svg('line', { class: 'axis', x1: left, x2: width - right, y1: y(0), y2: y(0) }),
    bars,
  );

  const legend = h(
    'ul',
    { class: 'chart-legend', 'aria-label': 'Legend' },
    STACK.map((status) => h('li', { class: `key key-${status}` }, STATUS_LABELS[status])),
  );

  const rows = hourly.filter((entry) => sum(entry.by_status) > 0);
  const numbers = h(
    'details',
    { class: 'chart-numbers' },
    h('summary', {}, 'The numbers per hour'),
    table(
      [
        ['Hour', (entry) => `${hourLabel(entry.hour)}`],
        ...STATUSES.map((status) => [STATUS_LABELS[status], (entry) => String(entry.by_status[status] || 0)]),
        ['All', (entry) => String(sum(entry.by_status))],
      ],
      rows,
      { caption: 'Communications created per hour, by status', empty: 'No communication in the last 24 hours.' },
    ),
  );

  return h(
    'figure',
    { class: 'chart-box' },
    picture,
    h('figcaption', {}, legend, h('p', { class: 'muted chart-summary' }, summary)),
    all === 0 ? notice('Nothing was created in the last 24 hours: send something to see it here.', 'info') : null,
    numbers,
  );
}
