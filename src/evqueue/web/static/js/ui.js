/**
 * Small DOM helpers: element builder, buttons, tables, tabs, dialogs, toasts, error text.
 *
 * Rules:
 * - Text always goes in as text nodes (never innerHTML), so engine data cannot inject markup.
 * - Dialogs are native <dialog> elements opened with showModal(): the browser gives focus
 *   trapping and Esc-to-close; forms inside them submit on Enter.
 * - Nothing animates: a browser test can act as soon as an element exists.
 * - Controls that tests drive carry data-testid (pass `testid`).
 */

import { EngineError } from './wire.js';

/**
 * Build an element. props: class, testid, on{event: fn}, style (object), dataset, and any
 * attribute or DOM property (value, checked, disabled, ...). Children: nodes, strings, arrays,
 * null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'testid') el.dataset.testid = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && !k.includes('-') && k !== 'list' && k !== 'form') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

/** Append children (nested arrays, strings, nodes; null/false skipped). */
export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace all children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A button; kind: '', 'primary', 'danger', 'ghost'. */
export function button(label, onClick, { kind = '', testid, title, type = 'button', disabled } = {}) {
  return h(
    'button',
    {
      type,
      class: `btn ${kind}`.trim(),
      testid,
      title,
      disabled,
      on: onClick ? { click: onClick } : undefined,
    },
    label,
  );
}

/** A coloured status word. */
export function badge(text, kind = '') {
  return h('span', { class: `badge ${kind}`.trim() }, text);
}

/** A progress bar (0–100) with its value readable by screen readers. */
export function progressBar(percent, label = '') {
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  return h(
    'div',
    {
      class: 'progress',
      role: 'progressbar',
      'aria-valuenow': p,
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      title: label || `${p} %`,
    },
    h('div', { class: 'progress-fill', style: { width: `${p}%` } }),
    h('span', {}, label || `${p} %`),
  );
}

/** Text for an error, in the words evQueue's UI used for engine errors. */
export function describeError(e) {
  if (e instanceof EngineError) return `evQueue engine returned error: ${e.describe()}`;
  return e && e.message ? e.message : String(e);
}

/** Show a toast; errors stay longer. Returns the element. */
export function toast(message, kind = 'info', { testid = 'toast' } = {}) {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, '×');
  const el = h('div', { class: `toast ${kind}`, testid, dataset: { kind } }, h('span', {}, message), close);
  const remove = () => el.remove();
  close.addEventListener('click', remove);
  box.append(el);
  // A modal dialog sits in the browser's top layer; re-showing the toast box as a popover puts
  // it above the newest dialog instead of under its backdrop.
  if (box.showPopover) {
    box.setAttribute('popover', 'manual');
    if (box.matches(':popover-open')) box.hidePopover();
    box.showPopover();
  }
  setTimeout(remove, kind === 'error' ? 10000 : 4000);
  return el;
}

/** Toast an error (with a prefix saying what failed). */
export function showError(e, prefix = '') {
  console.error(e);
  return toast(prefix ? `${prefix}: ${describeError(e)}` : describeError(e), 'error');
}

/**
 * A table. columns: [{label, render(row) -> node|string, class}]. Clickable rows are focusable
 * and open with Enter as well as a click.
 */
export function table({
  columns,
  rows,
  empty = 'Nothing to show',
  testid,
  rowTestid,
  rowData,
  onRowClick,
  rowClass,
}) {
  const head = h(
    'tr',
    {},
    columns.map((c) => h('th', { class: c.class, scope: 'col' }, c.label)),
  );
  const body = h('tbody');
  if (rows.length === 0) {
    body.append(h('tr', {}, h('td', { class: 'empty', colSpan: columns.length }, empty)));
  }
  for (const row of rows) {
    const tr = h(
      'tr',
      {
        testid: rowTestid,
        dataset: rowData ? rowData(row) : undefined,
        class: [onRowClick ? 'clickable' : '', rowClass ? rowClass(row) : ''].join(' ').trim() || undefined,
        tabIndex: onRowClick ? 0 : undefined,
      },
      columns.map((c) => h('td', { class: c.class }, c.render(row))),
    );
    if (onRowClick) {
      tr.addEventListener('click', (ev) => {
        if (!ev.target.closest('button, a, input, select, label')) onRowClick(row, ev);
      });
      tr.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && ev.target === tr) onRowClick(row, ev);
      });
    }
    body.append(tr);
  }
  return h('table', { class: 'grid', testid }, h('thead', {}, head), body);
}

/**
 * Tabs: [{id, label, render() -> Node}]. Returns {el, select(id)}; arrow keys move between tabs.
 */
export function tabs(items, { testid, initial, onSelect } = {}) {
  const bar = h('div', { class: 'tabbar', role: 'tablist' });
  const panel = h('div', { class: 'tabpanel', role: 'tabpanel' });
  const buttons = new Map();
  let current = null;
  const select = (id) => {
    const item = items.find((t) => t.id === id) || items[0];
    current = item.id;
    for (const [tid, b] of buttons) {
      b.setAttribute('aria-selected', String(tid === current));
      b.tabIndex = tid === current ? 0 : -1;
    }
    replace(panel, item.render());
    if (onSelect) onSelect(item.id);
  };
  items.forEach((item, i) => {
    const b = h(
      'button',
      { type: 'button', role: 'tab', class: 'tab', testid: `tab-${item.id}` },
      item.label,
    );
    b.addEventListener('click', () => select(item.id));
    b.addEventListener('keydown', (ev) => {
      const d = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
      if (!d) return;
      const next = items[(i + d + items.length) % items.length];
      select(next.id);
      buttons.get(next.id).focus();
    });
    buttons.set(item.id, b);
    bar.append(b);
  });
  select(initial || items[0].id);
  return { el: h('div', { class: 'tabs', testid }, bar, panel), select, current: () => current };
}

/**
 * Open a modal dialog. body: a Node; actions: buttons placed at the bottom.
 * Returns {el, body, close()}. Esc and the × button close it; onClose runs once.
 */
export function openDialog({ title, body, actions = [], testid, onClose, size = '' }) {
  const closeBtn = h(
    'button',
    { type: 'button', class: 'dialog-x', 'aria-label': 'Close', testid: 'dialog-close' },
    '×',
  );
  const heading = h('h2', { class: 'dialog-title' }, title);
  const el = h(
    'dialog',
    { class: `dialog ${size}`.trim(), testid, 'aria-label': typeof title === 'string' ? title : undefined },
    h('header', {}, heading, closeBtn),
    h('div', { class: 'dialog-body' }, body),
    actions.length ? h('footer', {}, actions) : null,
  );
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    if (el.open) el.close();
    el.remove();
    if (onClose) onClose();
  };
  closeBtn.addEventListener('click', close);
  el.addEventListener('close', close);
  document.body.append(el);
  el.showModal();
  const first = el.querySelector(
    '.dialog-body [autofocus], .dialog-body input, .dialog-body select, .dialog-body textarea',
  );
  if (first) first.focus();
  return { el, body, close, setTitle: (t) => replace(heading, t) };
}

/** Ask a yes/no question; resolves true on confirm. */
export function confirmDialog(
  message,
  { confirmLabel = 'Confirm', danger = false, title = 'Please confirm' } = {},
) {
  return new Promise((resolve) => {
    let answer = false;
    const ok = button(
      confirmLabel,
      () => {
        answer = true;
        dlg.close();
      },
      { kind: danger ? 'danger' : 'primary', testid: 'confirm-ok' },
    );
    const cancel = button('Cancel', () => dlg.close(), { testid: 'confirm-cancel' });
    const dlg = openDialog({
      title,
      body: h('p', {}, message),
      actions: [cancel, ok],
      testid: 'confirm-dialog',
      onClose: () => resolve(answer),
    });
    ok.focus();
  });
}

/** Ask for one line of text; resolves the text, or null when cancelled. */
export function promptDialog(message, { value = '', title = 'Input', label = '' } = {}) {
  return new Promise((resolve) => {
    let answer = null;
    const input = h('input', { type: 'text', value, testid: 'prompt-input', 'aria-label': label || message });
    const form = h('form', { class: 'form' }, h('p', {}, message), input);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      answer = input.value;
      dlg.close();
    });
    const dlg = openDialog({
      title,
      body: form,
      testid: 'prompt-dialog',
      onClose: () => resolve(answer),
      actions: [
        button('Cancel', () => dlg.close()),
        button('OK', () => form.requestSubmit(), { kind: 'primary', testid: 'prompt-ok' }),
      ],
    });
  });
}

/** Wrap an async action: disable the button while it runs, toast a failure. */
export async function busy(btn, fn, errorPrefix = '') {
  if (btn) btn.disabled = true;
  try {
    return await fn();
  } catch (e) {
    showError(e, errorPrefix);
    return undefined;
  } finally {
    if (btn) btn.disabled = false;
  }
}

/** An empty-state or loading paragraph. */
export function note(text, kind = '') {
  return h('p', { class: `note ${kind}`.trim() }, text);
}
