/**
 * Variables of the storage module: typed values kept in the engine's store, shown as a tree by
 * path (each path a collapsible group), with create, edit and delete for the ADMIN profile.
 *
 * Data: a 'shared' subscription to VARIABLE_SET/VARIABLE_UNSET running
 * `<storage action="list" path="" recursive="yes"/>` (rows `<var id path name value/>`). Edit
 * reads `<storage action="get" id/>` (type and structure are not in the list); save sends
 * `storage set [id] path name type structure value=<JSON>`; delete `storage unset id`. The
 * list follows every change, this page's own included, through the events the engine pushes.
 */

import { errorBox, field, options } from '../forms.js';
import { busy, button, confirmDialog, h, openDialog, replace, toast } from '../ui.js';
import { attrsOf, buildCommand, childElements } from '../wire.js';
import { STRUCTURES, TYPES, editorText, fullPath, shortValue, valueJson } from './storage-model.js';

export const LIST_COMMAND = buildCommand(
  'storage',
  { action: 'list', path: '', recursive: 'yes' },
  [],
  ['path'],
);

const VALUE_HELP = {
  NONE: { STRING: 'Text, as is.', INT: 'An integer.', BOOLEAN: 'true or false.' },
  ARRAY: 'JSON array of items of the type, e.g. ["a", "b"] or [1, 2].',
  MAP: 'JSON object of items of the type, e.g. {"prod": "db1", "test": "db2"}.',
};

/** The value control for a type and structure, holding `text`. */
function valueControl(type, structure, text) {
  const common = { testid: 'variable-value', 'aria-label': 'Value', name: 'value' };
  if (structure !== 'NONE') {
    return h('textarea', { ...common, class: 'code', rows: 8, value: text, spellcheck: false });
  }
  if (type === 'BOOLEAN') return h('select', common, options(['true', 'false'], text || 'true'));
  return h('input', { ...common, type: 'text', value: text, autocomplete: 'off' });
}

/** Open the create (v null) or edit dialog. */
function editDialog(cluster, v) {
  const errors = errorBox('variable-error');
  const textInput = (value, testid, extra = {}) =>
    h('input', { type: 'text', required: true, value, testid, autocomplete: 'off', ...extra });
  const path = textInput(v ? v.path : '', 'variable-path', { autofocus: true });
  const name = textInput(v ? v.name : '', 'variable-name');
  const type = h('select', { testid: 'variable-type' }, options(TYPES, v ? v.type : 'STRING'));
  const structure = h(
    'select',
    { testid: 'variable-structure' },
    options(STRUCTURES, v ? v.structure : 'NONE'),
  );
  let value = valueControl(type.value, structure.value, v ? editorText(v.structure, v.value) : '');
  const help = h('small', { class: 'help' });
  const valueRow = h('div', { class: 'field' }, h('label', {}, 'Value'), value, help);
  const redraw = (keepText) => {
    const text = keepText ? value.value : editorText(structure.value, '');
    const next = valueControl(type.value, structure.value, text);
    value.replaceWith(next);
    value = next;
    const hint = VALUE_HELP[structure.value];
    help.textContent = typeof hint === 'string' ? hint : hint[type.value];
  };
  redraw(true);
  type.addEventListener('change', () => redraw(true));
  structure.addEventListener('change', () => redraw(false));
  const submit = button('Save', null, { kind: 'primary', type: 'submit', testid: 'variable-submit' });
  const form = h(
    'form',
    { class: 'form' },
    field('Path', path, 'Where the variable lives, e.g. deploy/hosts (no leading or trailing /).'),
    field('Name', name),
    field('Type', type),
    field('Structure', structure, 'NONE: one value; ARRAY: a list; MAP: named entries.'),
    valueRow,
    errors.el,
    h('div', { class: 'form-actions' }, button('Cancel', () => dlg.close()), submit),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errors.clear();
    submit.disabled = true;
    try {
      await cluster.api(
        buildCommand('storage', {
          action: 'set',
          id: v ? v.id : undefined,
          path: path.value.trim(),
          name: name.value.trim(),
          type: type.value,
          structure: structure.value,
          value: valueJson(type.value, structure.value, value.value),
        }),
      );
      toast(`Variable ${path.value.trim()}/${name.value.trim()} saved`, 'success');
      dlg.close();
    } catch (e) {
      errors.show(e);
    } finally {
      submit.disabled = false;
    }
  });
  const dlg = openDialog({
    title: v ? `Variable ${fullPath(v)}` : 'New variable',
    body: form,
    testid: 'variable-dialog',
  });
}

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, session, scope } = ctx;
  let items = null; // null until the first list arrives
  const collapsed = new Set();
  const filter = h('input', {
    type: 'search',
    class: 'filter-box',
    placeholder: 'Filter variables  ( / )',
    value: ctx.query.q || '',
    'aria-label': 'Filter variables',
    testid: 'variables-filter',
    dataset: { role: 'filter' },
  });
  const listEl = h('div', { testid: 'variables-table' });
  ctx.el.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Variables'),
      filter,
      session.isAdmin
        ? button('New variable', () => editDialog(cluster, null), {
            kind: 'primary',
            testid: 'variable-new',
          })
        : null,
    ),
    h(
      'p',
      { class: 'note' },
      'Typed values kept in the shared store; launchers and displays name them by path/name.',
    ),
    listEl,
  );

  const edit = (row) =>
    busy(
      null,
      async () => {
        const root = await cluster.api(buildCommand('storage', { action: 'get', id: row.id }));
        editDialog(cluster, attrsOf(root));
      },
      'Variable not loaded',
    );

  const remove = async (row) => {
    const ok = await confirmDialog(`Delete variable ${fullPath(row)}?`, {
      confirmLabel: 'Delete variable',
      danger: true,
    });
    if (!ok) return;
    await cluster.api(buildCommand('storage', { action: 'unset', id: row.id }));
    toast(`Variable ${fullPath(row)} deleted`, 'success');
  };

  const groupRow = (path, count) => {
    const open = !collapsed.has(path);
    const toggle = h(
      'button',
      {
        type: 'button',
        class: 'btn ghost small',
        'aria-expanded': String(open),
        testid: 'variable-path-toggle',
      },
      `${open ? '▾' : '▸'} ${path}`,
    );
    toggle.addEventListener('click', () => {
      if (open) collapsed.add(path);
      else collapsed.delete(path);
      render();
    });
    const cell = h('td', { colSpan: 3 }, toggle, ` (${count})`);
    return h('tr', { class: 'group-row', dataset: { path } }, cell);
  };

  const variableRow = (v) =>
    h(
      'tr',
      { testid: 'variable-row', dataset: { path: v.path, name: v.name } },
      h('td', {}, h('strong', {}, v.name)),
      h('td', { class: 'mono', title: v.value }, shortValue(v.value)),
      h(
        'td',
        { class: 'actions' },
        session.isAdmin
          ? [
              button('Edit', () => edit(v), { kind: 'small', testid: 'variable-edit' }),
              ' ',
              button('Delete', () => busy(null, () => remove(v), 'Delete failed'), {
                kind: 'small danger',
                testid: 'variable-delete',
              }),
            ]
          : '',
      ),
    );

  function render() {
    const text = filter.value.trim().toLowerCase();
    const matches = (v) => [fullPath(v), v.value].some((t) => t.toLowerCase().includes(text));
    const shown = (items || []).filter((v) => !text || matches(v));
    const body = h('tbody');
    let lastPath = null;
    for (const v of shown) {
      if (v.path !== lastPath) {
        body.append(groupRow(v.path, shown.filter((x) => x.path === v.path).length));
        lastPath = v.path;
      }
      if (!collapsed.has(v.path)) body.append(variableRow(v));
    }
    if (shown.length === 0) {
      const empty = items === null ? 'Loading…' : text ? 'No variable matches.' : 'No variable yet.';
      body.append(h('tr', {}, h('td', { class: 'empty', colSpan: 3 }, empty)));
    }
    const head = h('tr', {}, ['Name', 'Value', ''].map((l) => h('th', { scope: 'col' }, l)));
    replace(listEl, h('table', { class: 'grid' }, h('thead', {}, head), body));
  }

  filter.addEventListener('input', () => {
    ctx.setQuery({ q: filter.value || undefined });
    render();
  });
  scope.own(
    cluster.subscribe({
      types: ['VARIABLE_UNSET', 'VARIABLE_SET'],
      command: LIST_COMMAND,
      onData: (root) => {
        items = childElements(root, 'var')
          .map(attrsOf)
          .sort((a, b) => a.path.localeCompare(b.path) || a.name.localeCompare(b.name));
        render();
      },
    }),
  );
  render();
}
