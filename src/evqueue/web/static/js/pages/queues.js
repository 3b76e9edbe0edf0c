/**
 * Queues: definitions (create, edit, delete, where used) and their live state on every node
 * (running tasks against concurrency, tasks waiting).
 *
 * Data: QUEUE_CREATED/MODIFIED/REMOVED running `<queuepool action="list"/>` ('shared');
 * QUEUE_ENQUEUE/DEQUEUE/EXECUTE/TERMINATE running `<statistics action="query" type="queue"/>`
 * on 'each' node (queue figures are per node); workflow definitions for "where used".
 */

import { State } from '../connection.js';
import { formDialog } from '../forms.js';
import { badge, busy, button, confirmDialog, h, progressBar, replace, table, toast } from '../ui.js';
import { attrsOf, buildCommand, childElements } from '../wire.js';
import { watchUsage } from './usage.js';

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, session, scope, router } = ctx;
  let queues = [];
  let usage = new Map();
  const stats = new Map(); // node -> Map(queue name -> attrs)
  const filter = h('input', {
    type: 'search',
    class: 'filter-box',
    placeholder: 'Filter queues  ( / )',
    'aria-label': 'Filter queues',
    testid: 'queues-filter',
    dataset: { role: 'filter' },
  });
  const listEl = h('div');
  ctx.el.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Queues'),
      filter,
      session.isAdmin
        ? button('New queue', () => edit(null), { kind: 'primary', testid: 'queue-new' })
        : null,
    ),
    listEl,
  );

  function edit(q) {
    formDialog({
      title: q ? `Queue ${q.name}` : 'New queue',
      testid: 'queue-dialog',
      fields: [
        {
          name: 'name',
          label: 'Name',
          value: q ? q.name : '',
          required: true,
          pattern: '[A-Za-z0-9_@.\\-]{1,64}',
          autofocus: true,
          testid: 'queue-name',
        },
        {
          name: 'concurrency',
          label: 'Concurrency',
          type: 'number',
          min: 1,
          value: q ? q.concurrency : 1,
          required: true,
          testid: 'queue-concurrency',
          help: 'How many tasks of this queue run at once on each node.',
        },
        {
          name: 'scheduler',
          label: 'Scheduler',
          type: 'select',
          value: q ? q.scheduler : 'default',
          testid: 'queue-scheduler',
          options: [
            { value: 'default', label: 'default (engine setting)' },
            { value: 'fifo', label: 'fifo: first come, first served' },
            { value: 'prio', label: 'prio: older instances first' },
          ],
        },
        {
          name: 'dynamic',
          label: 'Dynamic: one queue per remote host',
          type: 'checkbox',
          value: q ? q.dynamic === 'yes' : false,
          testid: 'queue-dynamic',
        },
      ],
      onSubmit: async (v) => {
        await cluster.api(
          buildCommand('queue', {
            action: q ? 'edit' : 'create',
            id: q ? q.id : undefined,
            name: v.name.trim(),
            concurrency: v.concurrency,
            scheduler: v.scheduler,
            dynamic: v.dynamic ? 'yes' : 'no',
          }),
        );
        toast(`Queue ${v.name} saved`, 'success');
      },
    });
  }

  async function remove(q) {
    if (!(await confirmDialog(`Delete queue ${q.name}?`, { confirmLabel: 'Delete queue', danger: true })))
      return;
    await cluster.api(buildCommand('queue', { action: 'delete', id: q.id }));
    toast(`Queue ${q.name} deleted`, 'success');
  }

  function nodeCell(q, node) {
    const s = stats.get(node.name) && stats.get(node.name).get(q.name);
    if (node.state !== State.READY) return badge('node down', 'error');
    if (!s) return '';
    const running = Number(s.running_tasks || 0);
    const concurrency = Number(s.concurrency || q.concurrency || 1);
    return h(
      'div',
      { testid: 'queue-state', dataset: { node: node.name, running, size: s.size || 0 } },
      progressBar((100 * running) / concurrency, `${running}/${concurrency} running`),
      h('small', { class: 'note' }, `${s.size || 0} waiting`),
    );
  }

  function render() {
    const text = filter.value.trim().toLowerCase();
    const rows = queues.filter((q) => !text || q.name.toLowerCase().includes(text));
    replace(
      listEl,
      table({
        testid: 'queues-table',
        rowTestid: 'queue-row',
        rowData: (q) => ({ name: q.name }),
        rows,
        empty: 'No queue.',
        columns: [
          { label: 'Queue', render: (q) => h('strong', {}, q.name) },
          { label: 'Scheduler', render: (q) => q.scheduler },
          { label: 'Concurrency', class: 'num', render: (q) => q.concurrency },
          { label: 'Dynamic', render: (q) => (q.dynamic === 'yes' ? 'yes' : 'no') },
          ...cluster.nodes.map((n) => ({ label: n.name, render: (q) => nodeCell(q, n) })),
          {
            label: 'Used by',
            render: (q) =>
              (usage.get(q.name) || []).map((w, i) => [
                i ? ', ' : '',
                h(
                  'a',
                  {
                    href: '#/workflows',
                    on: {
                      click: (ev) => {
                        ev.preventDefault();
                        router.go('/workflows', { q: w });
                      },
                    },
                  },
                  w,
                ),
              ]),
          },
          {
            label: '',
            class: 'actions',
            render: (q) =>
              session.isAdmin
                ? [
                    button('Edit', () => edit(q), { kind: 'small', testid: 'queue-edit' }),
                    ' ',
                    button('Delete', () => busy(null, () => remove(q), 'Delete failed'), {
                      kind: 'small danger',
                      testid: 'queue-delete',
                      disabled: (usage.get(q.name) || []).length > 0,
                      title: (usage.get(q.name) || []).length ? 'In use by workflows' : '',
                    }),
                  ]
                : '',
          },
        ],
      }),
    );
  }

  filter.addEventListener('input', render);
  scope.add(cluster.onChange(render));
  scope.own(
    cluster.subscribe({
      types: ['QUEUE_CREATED', 'QUEUE_MODIFIED', 'QUEUE_REMOVED'],
      command: buildCommand('queuepool', { action: 'list' }),
      onData: (root) => {
        queues = childElements(root, 'queue')
          .map(attrsOf)
          .sort((a, b) => a.name.localeCompare(b.name));
        render();
      },
    }),
  );
  scope.own(
    cluster.subscribe({
      types: [
        'QUEUE_CREATED',
        'QUEUE_REMOVED',
        'QUEUE_ENQUEUE',
        'QUEUE_DEQUEUE',
        'QUEUE_EXECUTE',
        'QUEUE_TERMINATE',
      ],
      command: buildCommand('statistics', { action: 'query', type: 'queue' }),
      scope: 'each',
      onData: (root, node) => {
        const box = childElements(root, 'statistics')[0] || root;
        stats.set(
          node,
          new Map(childElements(box, 'queue').map((q) => [q.getAttribute('name'), attrsOf(q)])),
        );
        render();
      },
    }),
  );
  watchUsage(cluster, scope, 'queue', (u) => {
    usage = u;
    render();
  });
  render();
}
