/**
 * Workflows: every workflow grouped by its group, with launch, edit and delete.
 *
 * Data: a 'shared' subscription to WORKFLOW_CREATED/MODIFIED/REMOVED running
 * `<workflows action="list"/>` (definitions are in the shared database; last reply wins).
 */

import { busy, button, confirmDialog, h, replace, table, toast } from '../ui.js';
import { attrsOf, buildCommand, childElements } from '../wire.js';

/** Rows sorted by group then name, with a group header row before each group. */
export function groupRows(items) {
  const sorted = [...items].sort(
    (a, b) => (a.group || '').localeCompare(b.group || '') || a.name.localeCompare(b.name),
  );
  const out = [];
  let last = null;
  for (const w of sorted) {
    const g = w.group || '';
    if (g !== last) {
      out.push({ header: g || 'No group' });
      last = g;
    }
    out.push(w);
  }
  return out;
}

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, session, scope, app, router } = ctx;
  let items = [];
  let loaded = false;
  const filter = h('input', {
    type: 'search',
    class: 'filter-box',
    placeholder: 'Filter workflows  ( / )',
    value: ctx.query.q || '',
    'aria-label': 'Filter workflows',
    testid: 'workflows-filter',
    dataset: { role: 'filter' },
  });
  const listEl = h('div');
  ctx.el.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Workflows'),
      filter,
      button('Launch…', () => app.openLaunch(), { testid: 'launch-button' }),
      session.isAdmin
        ? button('New workflow', () => router.go('/workflow/new'), {
            kind: 'primary',
            testid: 'workflow-new',
          })
        : null,
    ),
    listEl,
  );

  const remove = async (w) => {
    const ok = await confirmDialog(
      `Delete workflow ${w.name}? Its schedules and user rights are deleted too; past instances stay in the history.`,
      { confirmLabel: 'Delete workflow', danger: true },
    );
    if (!ok) return;
    await cluster.api(buildCommand('workflow', { action: 'delete', id: w.id }));
    toast(`Workflow ${w.name} deleted`, 'success');
  };

  function render() {
    const text = filter.value.trim().toLowerCase();
    const shown = items.filter(
      (w) => !text || [w.name, w.group, w.comment].some((v) => (v || '').toLowerCase().includes(text)),
    );
    replace(
      listEl,
      table({
        testid: 'workflows-table',
        rows: groupRows(shown),
        empty: loaded ? (text ? 'No workflow matches.' : 'No workflow yet.') : 'Loading…',
        rowTestid: 'workflow-row',
        rowData: (w) => (w.header ? { group: w.header } : { id: w.id, name: w.name }),
        rowClass: (w) => (w.header ? 'group-row' : ''),
        columns: [
          {
            label: 'Name',
            render: (w) => (w.header ? w.header : h('a', { href: `#/workflow/${w.id}` }, w.name)),
          },
          { label: 'Comment', render: (w) => w.comment || '' },
          {
            label: '',
            class: 'actions',
            render: (w) =>
              w.header
                ? ''
                : [
                    button('Launch', () => app.openLaunch({ workflowId: w.id, name: w.name }), {
                      kind: 'small',
                      testid: 'workflow-launch',
                    }),
                    ' ',
                    button(session.isAdmin ? 'Edit' : 'View', () => router.go(`/workflow/${w.id}`), {
                      kind: 'small',
                      testid: 'workflow-edit',
                    }),
                    ' ',
                    session.isAdmin
                      ? button('Delete', () => busy(null, () => remove(w), 'Delete failed'), {
                          kind: 'small danger',
                          testid: 'workflow-delete',
                        })
                      : null,
                  ],
          },
        ],
      }),
    );
  }

  filter.addEventListener('input', () => {
    ctx.setQuery({ q: filter.value || undefined });
    render();
  });
  scope.own(
    cluster.subscribe({
      types: ['WORKFLOW_CREATED', 'WORKFLOW_MODIFIED', 'WORKFLOW_REMOVED'],
      command: buildCommand('workflows', { action: 'list' }),
      onData: (root) => {
        items = childElements(root, 'workflow').map(attrsOf);
        loaded = true;
        render();
      },
      onError: (e) => replace(listEl, h('p', { class: 'note error' }, `Workflows not loaded: ${e.message}`)),
    }),
  );
  render();
}
