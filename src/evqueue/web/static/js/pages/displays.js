/**
 * Displays of the storage module: a display shows the items of an ARRAY or MAP variable, each
 * with a title and a content made from templates (storage-model.js renderTemplate), 10 per
 * page. The list is grouped; View opens a display, and the ADMIN profile creates, edits and
 * deletes them.
 *
 * Data: a 'shared' subscription to DISPLAY_CREATED/MODIFIED/REMOVED running
 * `<displays action="list"/>` (rows `<display id name group/>`). Edit and View read
 * `<display action="get" id/>`; View reads the variables with the variable list (one request
 * resolves the display's variable and every {path} of its templates). Save sends
 * `display create|edit [id] name group path order item_title item_content`; delete
 * `display delete id`. The list follows every change, this page's own included, through the
 * events the engine pushes.
 */

import { errorBox, field, options } from '../forms.js';
import { busy, button, confirmDialog, h, openDialog, replace, table, toast } from '../ui.js';
import { attrsOf, buildCommand, childElements } from '../wire.js';
import { displayItems, fullPath, renderTemplate, valuesByPath } from './storage-model.js';
import { LIST_COMMAND as VARIABLES_COMMAND } from './variables.js';
import { groupRows } from './workflows.js';

const PAGE_SIZE = 10;

/** Open the create (d null) or edit dialog; `paths` are the variables' full paths. */
function editDialog(cluster, d, paths) {
  const errors = errorBox('display-error');
  const list = h('datalist', { id: 'display-paths' }, paths.map((p) => h('option', { value: p })));
  const input = (value, testid, extra = {}) =>
    h('input', { type: 'text', value: value || '', testid, autocomplete: 'off', ...extra });
  const name = input(d && d.name, 'display-name', { required: true, autofocus: true });
  const group = input(d && d.group, 'display-group');
  const path = input(d && d.path, 'display-path', { required: true, list: 'display-paths' });
  const order = h(
    'select',
    { testid: 'display-order' },
    options(
      [
        { value: 'ASC', label: 'In stored order' },
        { value: 'DESC', label: 'Reversed (newest appended first)' },
      ],
      d ? d.order : 'ASC',
    ),
  );
  const title = input(d && d.item_title, 'display-title', { required: true });
  const content = h('textarea', {
    rows: 5,
    value: d ? d.item_content : '',
    required: true,
    testid: 'display-content',
  });
  const submit = button('Save', null, { kind: 'primary', type: 'submit', testid: 'display-submit' });
  const form = h(
    'form',
    { class: 'form' },
    list,
    field('Name', name),
    field('Group', group, 'Displays of one group are shown together.'),
    field('Variable', path, 'The path/name of an ARRAY or MAP variable.'),
    field('Order', order),
    field('Item title', title, '$key and $value are the item’s key and value.'),
    field(
      'Item content',
      content,
      'Also {path/name} (a variable’s value) and {path/name}.key (an entry of a MAP).',
    ),
    errors.el,
    h('div', { class: 'form-actions' }, button('Cancel', () => dlg.close()), submit),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errors.clear();
    submit.disabled = true;
    try {
      const attributes = {
        action: d ? 'edit' : 'create',
        id: d ? d.id : undefined,
        name: name.value.trim(),
        group: group.value.trim(),
        path: path.value.trim(),
        order: order.value,
        item_title: title.value,
        item_content: content.value,
      };
      await cluster.api(buildCommand('display', attributes, [], ['group']));
      toast(`Display ${attributes.name} saved`, 'success');
      dlg.close();
    } catch (e) {
      errors.show(e);
    } finally {
      submit.disabled = false;
    }
  });
  const dlg = openDialog({
    title: d ? `Display ${d.name}` : 'New display',
    body: form,
    testid: 'display-dialog',
  });
}

/** Open a display: its items, PAGE_SIZE at a time. */
function viewDialog(d, variables) {
  const values = valuesByPath(variables);
  const items = displayItems(values.get(d.path), d.order);
  const body = h('div', { testid: 'display-items' });
  let page = 0;
  const pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE));
  const draw = () => {
    const shown = items.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    const go = (delta) => () => {
      page += delta;
      draw();
    };
    replace(
      body,
      values.has(d.path) ? null : h('p', { class: 'note error' }, `No variable ${d.path}.`),
      shown.map((item) =>
        h(
          'div',
          { class: 'panel', testid: 'display-item' },
          h('h3', {}, renderTemplate(d.item_title, item, values)),
          h('p', { class: 'pre-line' }, renderTemplate(d.item_content, item, values)),
        ),
      ),
      items.length === 0 && values.has(d.path) ? h('p', { class: 'note' }, 'No item.') : null,
      h(
        'div',
        { class: 'pager' },
        button('Previous', go(-1), { kind: 'small', disabled: page === 0 }),
        `Page ${page + 1} of ${pages}`,
        button('Next', go(1), { kind: 'small', disabled: page + 1 >= pages, testid: 'display-next' }),
      ),
    );
  };
  draw();
  openDialog({ title: d.name, body, testid: 'display-view', size: 'wide' });
}

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, session, scope } = ctx;
  let items = [];
  let loaded = false;
  const listEl = h('div');

  const variables = async () =>
    childElements(await cluster.api(VARIABLES_COMMAND), 'var').map(attrsOf);
  const get = async (row) => ({
    ...attrsOf(await cluster.api(buildCommand('display', { action: 'get', id: row.id }))),
    id: row.id,
  });
  const paths = async () => (await variables()).map(fullPath);
  const create = () => busy(null, async () => editDialog(cluster, null, await paths()));
  const edit = (row) =>
    busy(null, async () => editDialog(cluster, await get(row), await paths()));
  const view = (row) =>
    busy(null, async () => viewDialog(await get(row), await variables()), 'Display not loaded');
  const remove = async (row) => {
    const ok = await confirmDialog(`Delete display ${row.name}?`, {
      confirmLabel: 'Delete display',
      danger: true,
    });
    if (!ok) return;
    await cluster.api(buildCommand('display', { action: 'delete', id: row.id }));
    toast(`Display ${row.name} deleted`, 'success');
  };

  ctx.el.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Displays'),
      session.isAdmin
        ? button('New display', create, { kind: 'primary', testid: 'display-new' })
        : null,
    ),
    h('p', { class: 'note' }, 'A display shows the items of an ARRAY or MAP variable.'),
    listEl,
  );

  function render() {
    const admin = (d) => [
      ' ',
      button('Edit', () => edit(d), { kind: 'small', testid: 'display-edit' }),
      ' ',
      button('Delete', () => busy(null, () => remove(d), 'Delete failed'), {
        kind: 'small danger',
        testid: 'display-delete',
      }),
    ];
    replace(
      listEl,
      table({
        testid: 'displays-table',
        rows: groupRows(items),
        empty: loaded ? 'No display yet.' : 'Loading…',
        rowTestid: 'display-row',
        rowData: (d) => (d.header ? { group: d.header } : { id: d.id, name: d.name }),
        rowClass: (d) => (d.header ? 'group-row' : ''),
        columns: [
          { label: 'Name', render: (d) => (d.header ? d.header : h('strong', {}, d.name)) },
          {
            label: '',
            class: 'actions',
            render: (d) =>
              d.header
                ? ''
                : [
                    button('View', () => view(d), { kind: 'small', testid: 'display-view-button' }),
                    session.isAdmin ? admin(d) : null,
                  ],
          },
        ],
      }),
    );
  }

  scope.own(
    cluster.subscribe({
      types: ['DISPLAY_CREATED', 'DISPLAY_MODIFIED', 'DISPLAY_REMOVED'],
      command: buildCommand('displays', { action: 'list' }),
      onData: (root) => {
        items = childElements(root, 'display').map(attrsOf);
        loaded = true;
        render();
      },
    }),
  );
  render();
}
