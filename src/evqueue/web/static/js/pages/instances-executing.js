/**
 * The "executing instances" panel: what runs right now on every node, live.
 *
 * Data: one subscription per node ('each') to INSTANCE_STARTED, INSTANCE_TERMINATED and the
 * TASK_* events, running `<status action="query" type="workflows" limit="100"/>`. Replies are
 * kept per node and concatenated, each row tagged with its node (frontend.md §1.6); the title
 * count is the sum of the roots' `count`. Rows of a node that went down stay, marked stale.
 * Elapsed times tick every second on the engine's clock (no request is made for that).
 */

import { State } from '../connection.js';
import { durationBetween, formatDuration, formatWhen } from '../format.js';
import { badge, button, busy, confirmDialog, h, replace, table, toast } from '../ui.js';
import { attrsOf, buildCommand, childElements } from '../wire.js';
import { cancelInstance, killInstance } from './instance-actions.js';

const LIMIT = 100;

function stateBadge(row) {
  const running = Number(row.running_tasks || 0);
  const queued = Number(row.queued_tasks || 0);
  if (Number(row.retrying_tasks || 0) > 0 && running === 0) return badge('waiting retry', 'warn');
  if (running - queued > 0) return badge('running', 'running');
  if (queued > 0) return badge('queued');
  return badge(row.status ? row.status.toLowerCase() : 'running', 'running');
}

function readRows(root, node) {
  return childElements(root, 'workflow').map((w) => ({
    ...attrsOf(w),
    node,
    tags: Array.from(w.getElementsByTagName('tag')).map((t) => t.getAttribute('label')),
  }));
}

/**
 * @param {Object} ctx page context
 * @returns {HTMLElement} the panel
 */
export function executingPanel(ctx) {
  const { cluster, scope, app } = ctx;
  const perNode = new Map(); // node -> {rows, count}
  const filter = h('input', {
    type: 'search',
    class: 'filter-box',
    placeholder: 'Filter running instances  ( / )',
    'aria-label': 'Filter running instances',
    testid: 'executing-filter',
    dataset: { role: 'filter' },
  });
  const title = h('h2', { testid: 'executing-count' }, 'Executing instances');
  const retryBtn = button('Retry all now', () => busy(retryBtn, retryAll), {
    testid: 'retry-all-button',
    title: 'Run every pending task retry now',
  });
  const listEl = h('div');
  const panel = h(
    'section',
    { class: 'panel', testid: 'executing-panel' },
    h(
      'div',
      { class: 'page-head' },
      title,
      filter,
      retryBtn,
      button('Launch…', () => app.openLaunch(), { kind: 'primary', testid: 'launch-button' }),
    ),
    listEl,
  );

  async function retryAll() {
    const ok = await confirmDialog(
      'Run every pending task retry now, on every node? The retry counter of each task in error is decremented.',
      { confirmLabel: 'Retry all' },
    );
    if (!ok) return;
    const results = await cluster.apiAll(buildCommand('control', { action: 'retry' }));
    const failed = results.filter((r) => r.error);
    if (failed.length)
      toast(`Retry failed on ${failed.map((r) => r.node).join(', ')}: ${failed[0].error.message}`, 'error');
    else toast('Pending retries started', 'success');
  }

  const elapsed = (row) => {
    const n = cluster.node(row.node);
    return formatDuration(durationBetween(row.start_time, '', n ? n.offset : 0));
  };

  function render() {
    const text = filter.value.trim().toLowerCase();
    let rows = [];
    let total = 0;
    for (const [node, data] of perNode) {
      const entry = cluster.node(node);
      const stale = !entry || entry.state !== State.READY;
      rows = rows.concat(data.rows.map((r) => ({ ...r, stale })));
      total += data.count;
    }
    rows.sort((a, b) => Number(b.id) - Number(a.id));
    if (text) {
      rows = rows.filter((r) =>
        [r.id, r.name, r.node, r.host, r.comment, ...r.tags].some((v) =>
          String(v || '')
            .toLowerCase()
            .includes(text),
        ),
      );
    }
    replace(title, `Executing instances (${total})`);
    const shown = [...perNode.values()].reduce((a, d) => a + d.rows.length, 0);
    replace(
      listEl,
      total > shown
        ? h('p', { class: 'note' }, `Showing ${shown} of ${total} (the ${LIMIT} most recent per node).`)
        : null,
      table({
        testid: 'executing-table',
        rowTestid: 'executing-row',
        rows,
        empty: 'Nothing is running.',
        rowData: (r) => ({ id: r.id, node: r.node }),
        rowClass: (r) => (r.stale ? 'stale' : ''),
        onRowClick: (r) => app.openInstance(r.id, r.node),
        columns: [
          { label: 'State', render: (r) => (r.stale ? badge('node down', 'error') : stateBadge(r)) },
          { label: 'Id', class: 'num', render: (r) => r.id },
          {
            label: 'Workflow',
            render: (r) => [
              h('strong', {}, r.name),
              r.comment ? h('div', { class: 'note' }, r.comment) : null,
            ],
          },
          {
            label: 'Running for',
            render: (r) =>
              h('span', { class: 'elapsed', dataset: { start: r.start_time, node: r.node } }, elapsed(r)),
          },
          {
            label: 'Tasks',
            render: (r) =>
              `${Number(r.running_tasks || 0) - Number(r.queued_tasks || 0)} running, ${r.queued_tasks || 0} queued`,
          },
          { label: 'Tags', render: (r) => r.tags.map((t) => h('span', { class: 'tag' }, t)) },
          { label: 'Node', render: (r) => r.node },
          { label: 'Host', render: (r) => r.host || 'localhost' },
          { label: 'Started', render: (r) => formatWhen(r.start_time) },
          {
            label: '',
            class: 'actions',
            render: (r) => [
              button(
                'Cancel',
                () => busy(null, () => cancelInstance(cluster, r.id, r.node), 'Cancel failed'),
                { kind: 'small', testid: 'instance-cancel', title: 'Graceful: running tasks finish' },
              ),
              ' ',
              button('Kill', () => busy(null, () => killInstance(cluster, r.id, r.node), 'Kill failed'), {
                kind: 'small danger',
                testid: 'instance-kill',
                title: 'Cancel and SIGKILL running tasks',
              }),
            ],
          },
        ],
      }),
    );
  }

  filter.addEventListener('input', render);
  scope.add(cluster.onChange(render));
  scope.own(
    cluster.subscribe({
      types: ['INSTANCE_STARTED', 'INSTANCE_TERMINATED', 'TASK_ENQUEUE', 'TASK_EXECUTE', 'TASK_TERMINATE'],
      command: buildCommand('status', { action: 'query', type: 'workflows', limit: LIMIT }),
      scope: 'each',
      onData: (root, node) => {
        perNode.set(node, { rows: readRows(root, node), count: Number(root.getAttribute('count')) || 0 });
        render();
      },
    }),
  );
  scope.every(1000, () => {
    for (const el of listEl.querySelectorAll('.elapsed')) {
      const n = cluster.node(el.dataset.node);
      el.textContent = formatDuration(durationBetween(el.dataset.start, '', n ? n.offset : 0));
    }
  });
  render();
  return panel;
}
