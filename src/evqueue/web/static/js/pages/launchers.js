/**
 * Launchers of the storage module: self-service launch presets. A launcher names a workflow
 * and binds its user, its host and each of its parameters to a variable path; the list shows
 * the launchers this user may use, grouped, with create, edit and delete for the ADMIN profile.
 *
 * Data: a 'shared' subscription to LAUNCHER_CREATED/MODIFIED/REMOVED running
 * `<launchers action="list"/>` (rows `<launcher id name group description/>`). Edit reads
 * `<launcher action="get" id/>`; save sends `launcher create|edit [id] name group description
 * workflow_id user host parameters=<JSON {parameter: variable path}>` (evQueue's UI format);
 * delete `launcher delete id`. The workflow's parameters come from `<workflow action="get"/>`,
 * variable paths for the suggestions from the variable list. The list follows every change,
 * this page's own included, through the events the engine pushes.
 */

import { errorBox, field, options } from '../forms.js';
import { busy, button, confirmDialog, h, openDialog, replace, table, toast } from '../ui.js';
import { attrsOf, buildCommand, childElements } from '../wire.js';
import { fullPath } from './storage-model.js';
import { LIST_COMMAND as VARIABLES_COMMAND } from './variables.js';
import { groupRows } from './workflows.js';

/** The parameters JSON of a launcher as an object (anything unreadable gives {}). */
export function parseParameters(text) {
  try {
    const value = JSON.parse(text || '{}');
    return value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

/** A <datalist> of every variable's full path, filled once the list arrives. */
function variablesDatalist(cluster) {
  const list = h('datalist', { id: `variables-${Math.random().toString(36).slice(2, 8)}` });
  cluster
    .api(VARIABLES_COMMAND)
    .then((root) => {
      const paths = childElements(root, 'var').map((v) => fullPath(attrsOf(v)));
      replace(list, [...new Set(paths)].sort().map((p) => h('option', { value: p })));
    })
    .catch(() => {}); // suggestions only: the fields still take any path
  return list;
}

/** Open the create (l null) or edit dialog over the workflows [{id, name, group}]. */
function editDialog(cluster, l, workflows) {
  const errors = errorBox('launcher-error');
  const suggestions = variablesDatalist(cluster);
  const input = (value, testid, extra = {}) =>
    h('input', { type: 'text', value: value || '', testid, autocomplete: 'off', ...extra });
  const pathInput = (value, testid, label) =>
    input(value, testid, {
      list: suggestions.id,
      placeholder: 'variable path/name',
      'aria-label': label,
    });
  const name = input(l && l.name, 'launcher-name', { required: true, autofocus: true });
  const group = input(l && l.group, 'launcher-group');
  const description = input(l && l.description, 'launcher-description');
  const workflow = h(
    'select',
    { testid: 'launcher-workflow', required: true },
    options(
      workflows.map((w) => ({ value: w.id, label: w.name, group: w.group || 'No group' })),
      l ? l.workflow_id : '',
    ),
  );
  const user = pathInput(l && l.user, 'launcher-user', 'User');
  const host = pathInput(l && l.host, 'launcher-host', 'Host');
  const bound = parseParameters(l && l.parameters);
  let inputs = new Map(); // parameter name -> input
  const paramsEl = h('div', { class: 'field' });
  const loadParameters = async () => {
    for (const [p, el] of inputs) bound[p] = el.value; // keep what was typed
    inputs = new Map();
    replace(paramsEl, h('label', {}, 'Parameters'), h('small', { class: 'help' }, 'Loading…'));
    if (!workflow.value) return;
    const root = await cluster.api(buildCommand('workflow', { action: 'get', id: workflow.value }));
    const names = [...root.querySelectorAll('parameters > parameter')].map((p) =>
      p.getAttribute('name'),
    );
    for (const p of names) inputs.set(p, pathInput(bound[p], `launcher-param-${p}`, `Parameter ${p}`));
    replace(
      paramsEl,
      h('label', {}, 'Parameters'),
      names.length
        ? names.map((p) => field(p, inputs.get(p)))
        : h('small', { class: 'help' }, 'The workflow has none.'),
    );
  };
  workflow.addEventListener('change', () => busy(null, loadParameters, 'Parameters not loaded'));
  busy(null, loadParameters, 'Parameters not loaded');
  const submit = button('Save', null, { kind: 'primary', type: 'submit', testid: 'launcher-submit' });
  const form = h(
    'form',
    { class: 'form' },
    suggestions,
    field('Name', name),
    field('Group', group),
    field('Description', description),
    field('Workflow', workflow),
    field('User', user, 'Variable holding the user the tasks run as (empty: the node’s user).'),
    field('Host', host, 'Variable holding the host the tasks run on (empty: the node itself).'),
    paramsEl,
    errors.el,
    h('div', { class: 'form-actions' }, button('Cancel', () => dlg.close()), submit),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errors.clear();
    submit.disabled = true;
    try {
      const parameters = Object.fromEntries([...inputs].map(([p, el]) => [p, el.value.trim()]));
      const attributes = {
        action: l ? 'edit' : 'create',
        id: l ? l.id : undefined,
        name: name.value.trim(),
        group: group.value.trim(),
        description: description.value.trim(),
        workflow_id: workflow.value,
        user: user.value.trim(),
        host: host.value.trim(),
        parameters: JSON.stringify(parameters),
      };
      const keepEmpty = ['group', 'description', 'user', 'host'];
      await cluster.api(buildCommand('launcher', attributes, [], keepEmpty));
      toast(`Launcher ${attributes.name} saved`, 'success');
      dlg.close();
    } catch (e) {
      errors.show(e);
    } finally {
      submit.disabled = false;
    }
  });
  const dlg = openDialog({
    title: l ? `Launcher ${l.name}` : 'New launcher',
    body: form,
    testid: 'launcher-dialog',
  });
}

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, session, scope } = ctx;
  let items = [];
  let loaded = false;
  const listEl = h('div');

  const withWorkflows = (fn) =>
    busy(
      null,
      async () => {
        const root = await cluster.api(buildCommand('workflows', { action: 'list' }));
        await fn(childElements(root, 'workflow').map(attrsOf));
      },
      'Workflows not loaded',
    );
  const create = () => withWorkflows((workflows) => editDialog(cluster, null, workflows));
  const edit = (row) =>
    withWorkflows(async (workflows) => {
      const root = await cluster.api(buildCommand('launcher', { action: 'get', id: row.id }));
      editDialog(cluster, { ...attrsOf(root), id: row.id }, workflows);
    });
  const remove = async (row) => {
    const ok = await confirmDialog(`Delete launcher ${row.name}?`, {
      confirmLabel: 'Delete launcher',
      danger: true,
    });
    if (!ok) return;
    await cluster.api(buildCommand('launcher', { action: 'delete', id: row.id }));
    toast(`Launcher ${row.name} deleted`, 'success');
  };

  ctx.el.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Launchers'),
      session.isAdmin
        ? button('New launcher', create, { kind: 'primary', testid: 'launcher-new' })
        : null,
    ),
    h(
      'p',
      { class: 'note' },
      'A launcher starts a workflow with its user, host and parameters taken from variables.',
    ),
    listEl,
  );

  function render() {
    replace(
      listEl,
      table({
        testid: 'launchers-table',
        rows: groupRows(items),
        empty: !loaded ? 'Loading…' : session.isAdmin ? 'No launcher yet.' : 'No launcher for you.',
        rowTestid: 'launcher-row',
        rowData: (l) => (l.header ? { group: l.header } : { id: l.id, name: l.name }),
        rowClass: (l) => (l.header ? 'group-row' : ''),
        columns: [
          { label: 'Name', render: (l) => (l.header ? l.header : h('strong', {}, l.name)) },
          { label: 'Description', render: (l) => l.description || '' },
          {
            label: '',
            class: 'actions',
            render: (l) =>
              l.header || !session.isAdmin
                ? ''
                : [
                    button('Edit', () => edit(l), { kind: 'small', testid: 'launcher-edit' }),
                    ' ',
                    button('Delete', () => busy(null, () => remove(l), 'Delete failed'), {
                      kind: 'small danger',
                      testid: 'launcher-delete',
                    }),
                  ],
          },
        ],
      }),
    );
  }

  scope.own(
    cluster.subscribe({
      types: ['LAUNCHER_CREATED', 'LAUNCHER_MODIFIED', 'LAUNCHER_REMOVED'],
      command: buildCommand('launchers', { action: 'list' }),
      onData: (root) => {
        items = childElements(root, 'launcher').map(attrsOf);
        loaded = true;
        render();
      },
    }),
  );
  render();
}
