/**
 * The instance details dialog: summary, job/task tree and graph with live status, task output (live
 * tail while running), tags, raw XML, and the actions cancel, kill, kill one task, relaunch,
 * debug relaunch, delete.
 *
 * Data, all pushed (frontend.md §2.3):
 * - TASK_ENQUEUE/TASK_EXECUTE/TASK_TERMINATE/TASK_PROGRESS/INSTANCE_TERMINATED with
 *   object_id = the instance id, running `<instance action="query" id=…/>` on the node that runs
 *   the instance (another node answers WRONG_NODE while it runs). A terminated instance is read
 *   from the shared database, so any node does when its own is down.
 * - INSTANCE_TAGGED/INSTANCE_UNTAGGED running `<instances action="list" filter_id=…/>` for tags.
 * The node is taken from the caller, else from the history row of the instance.
 */

import { State } from '../connection.js';
import { durationBetween, formatDuration } from '../format.js';
import {
  badge,
  busy,
  button,
  h,
  openDialog,
  promptDialog,
  replace,
  showError,
  table,
  tabs,
  toast,
} from '../ui.js';
import { attrsOf, buildCommand, child, childElements, prettyXml } from '../wire.js';
import {
  cancelInstance,
  debugResume,
  deleteInstance,
  killInstance,
  killTask,
  relaunchPreset,
} from './instance-actions.js';
import { InstanceGraph } from '../graph/instance-graph.js';
import { findTask, renderTree, taskStatus } from './instance-tree.js';
import { TaskPanel } from './task-panel.js';

/** Where to subscribe: the instance's node when it is up, otherwise any node. */
function scopeFor(cluster, node) {
  const entry = node && cluster.node(node);
  return entry && entry.state === State.READY ? node : 'shared';
}

async function findNode(cluster, id) {
  const root = await cluster.api(buildCommand('instances', { action: 'list', filter_id: id, limit: 1 }));
  const row = child(root, 'workflow');
  return row ? row.getAttribute('node_name') || '' : '';
}

function firstInteresting(wf) {
  const tasks = Array.from(wf.getElementsByTagName('task'));
  const pick =
    tasks.find((t) => t.getAttribute('status') === 'EXECUTING') ||
    tasks.find((t) => taskStatus(t).kind === 'error') ||
    null;
  return pick ? pick.getAttribute('evqid') : null;
}

/**
 * Open the dialog. o: {cluster, session, app, scope, id, node, onClose}. Returns {close()}.
 */
export function openInstanceDetails(o) {
  const { cluster, session, app, scope, id } = o;
  let node = o.node || '';
  let wf = null; // the instance <workflow> element
  let tags = [];
  let selected = null;
  const head = h(
    'div',
    { class: 'instance-head', testid: 'instance-summary' },
    h('p', { class: 'note' }, 'Loading…'),
  );
  const actions = h('div', { class: 'toolbar', testid: 'instance-actions' });
  const panel = new TaskPanel({ cluster, scope, id, node });
  const treeBox = h('div', { class: 'tree-box' });
  const graph = new InstanceGraph({
    onSelect: (evqid) => {
      selected = evqid;
      drawGraph();
    },
  });
  const t = tabs(
    [
      { id: 'tree', label: 'Tree', render: () => h('div', { class: 'split' }, treeBox, panel.el) },
      { id: 'graph', label: 'Graph', render: () => h('div', { class: 'split graph-split' }, drawGraph(), panel.el) },
      { id: 'summary', label: 'Summary', render: () => summary() },
      { id: 'tags', label: 'Tags', render: () => tagsView() },
      {
        id: 'xml',
        label: 'XML',
        render: () => h('pre', { class: 'xml', testid: 'instance-xml' }, wf ? prettyXml(wf) : ''),
      },
    ],
    { testid: 'instance-tabs' },
  );
  const dlg = openDialog({
    title: `Instance ${id}`,
    testid: 'instance-details',
    size: 'wide',
    onClose: o.onClose,
    body: h('div', { dataset: { instance: id } }, head, actions, t.el),
  });
  scope.add(() => dlg.close());

  const run = (fn, what) => busy(null, fn, what);
  const isRunning = () => wf && wf.getAttribute('status') === 'EXECUTING';

  function drawActions() {
    const admin = session.isAdmin;
    replace(
      actions,
      isRunning()
        ? [
            button('Cancel', () => run(() => cancelInstance(cluster, id, node), 'Cancel failed'), {
              testid: 'details-cancel',
            }),
            button('Kill', () => run(() => killInstance(cluster, id, node), 'Kill failed'), {
              kind: 'danger',
              testid: 'details-kill',
            }),
          ]
        : [
            button(
              'Debug relaunch',
              () =>
                run(async () => {
                  const newId = await debugResume(cluster, id, node);
                  if (newId) app.openInstance(newId, node);
                }, 'Debug relaunch failed'),
              { testid: 'details-debugresume', title: 'Keep the successful tasks, rerun the failed ones' },
            ),
            admin
              ? button(
                  'Delete',
                  () =>
                    run(async () => {
                      if (await deleteInstance(cluster, id, node)) dlg.close();
                    }, 'Delete failed'),
                  { kind: 'danger', testid: 'details-delete' },
                )
              : null,
          ],
      wf
        ? button('Relaunch…', () => app.openLaunch(relaunchPreset(wf, node, session.user)), {
            testid: 'details-relaunch',
          })
        : null,
      h('span', { class: 'spacer' }),
      button('Copy link', copyLink, { kind: 'ghost', testid: 'details-link' }),
    );
  }

  function copyLink() {
    const url = window.location.href;
    // The clipboard API only exists in secure contexts (https or localhost): else show the URL.
    if (navigator.clipboard)
      navigator.clipboard.writeText(url).then(
        () => toast('Link copied'),
        () => promptDialog('Link to this instance', { value: url }),
      );
    else promptDialog('Link to this instance', { value: url, title: 'Link' });
  }

  function drawHead() {
    const a = attrsOf(wf);
    const n = cluster.node(node);
    const status =
      a.status === 'EXECUTING'
        ? badge('running', 'running')
        : Number(a.errors || 0) > 0
          ? badge(`terminated with ${a.errors} error${a.errors === '1' ? '' : 's'}`, 'error')
          : badge(a.status === 'TERMINATED' ? 'success' : (a.status || '').toLowerCase(), 'ok');
    dlg.setTitle(`Instance ${id} — ${a.name || ''}`);
    replace(
      head,
      h(
        'p',
        {},
        status,
        ' ',
        `on ${node || '?'}${a.host ? ` (tasks on ${a.user ? `${a.user}@` : ''}${a.host})` : ''}, started ${a.start_time || '?'}`,
        a.end_time ? `, ended ${a.end_time}` : '',
        `, ${a.end_time ? 'took' : 'running for'} ${formatDuration(durationBetween(a.start_time, a.end_time, n ? n.offset : 0))}`,
        a.comment ? h('span', { class: 'note' }, ` — ${a.comment}`) : null,
      ),
    );
  }

  function drawTree() {
    const focused =
      document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.evqid : null;
    replace(
      treeBox,
      renderTree(wf, {
        selected,
        onSelect: (evqid) => {
          selected = evqid;
          drawTree();
        },
        onKill: (task) =>
          run(
            () =>
              killTask(
                cluster,
                id,
                node,
                task.getAttribute('pid'),
                task.getAttribute('name') || task.getAttribute('path'),
              ),
            'Kill failed',
          ),
      }),
    );
    const task = selected && findTask(wf, selected);
    if (task) panel.show(task);
    if (focused) {
      const again = treeBox.querySelector(`.task[data-evqid="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }

  function drawGraph() {
    if (!wf) return graph.el;
    graph.draw(wf, selected);
    const task = selected && findTask(wf, selected);
    if (task) panel.show(task);
    return graph.el;
  }

  function summary() {
    if (!wf) return h('p', { class: 'note' }, 'Loading…');
    const a = attrsOf(wf);
    const params = childElements(child(wf, 'parameters'), 'parameter');
    const kv = (k, v) => (v ? [h('dt', {}, k), h('dd', {}, v)] : null);
    return h(
      'div',
      {},
      h(
        'dl',
        { class: 'kv' },
        kv('Workflow', a.name),
        kv('Instance', a.id),
        kv('Status', a.status),
        kv('Node', node),
        kv('Host', a.host),
        kv('User', a.user),
        kv('Comment', a.comment),
        kv('Started', a.start_time),
        kv('Ended', a.end_time),
        kv('Errors', a.errors),
        kv('Schedule', a.schedule_id || a.workflow_schedule_id),
      ),
      h('h3', {}, 'Parameters'),
      table({
        rows: params,
        empty: 'No parameter.',
        testid: 'instance-parameters',
        columns: [
          { label: 'Name', render: (p) => p.getAttribute('name') },
          { label: 'Value', render: (p) => h('code', {}, p.textContent) },
        ],
      }),
    );
  }

  function tagsView() {
    const input = h('input', {
      type: 'text',
      placeholder: 'Tag label',
      testid: 'tag-input',
      'aria-label': 'New tag',
    });
    const form = h(
      'form',
      { class: 'toolbar' },
      input,
      button('Add tag', null, { type: 'submit', testid: 'tag-add' }),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const label = input.value.trim();
      if (label) run(() => addTag(label), 'Tagging failed');
    });
    return h(
      'div',
      {},
      tags.length
        ? h(
            'ul',
            { testid: 'instance-tags' },
            tags.map((tg) =>
              h(
                'li',
                {},
                h('span', { class: 'tag' }, tg.label),
                ' ',
                button(
                  'Remove',
                  () =>
                    run(
                      () =>
                        cluster.api(
                          buildCommand('instance', { action: 'untag', id, tag_id: tg.id }),
                          node ? { node } : {},
                        ),
                      'Untag failed',
                    ),
                  { kind: 'small', testid: 'tag-remove' },
                ),
              ),
            ),
          )
        : h('p', { class: 'note' }, 'No tag.'),
      isRunning() ? h('p', { class: 'note' }, 'Tags can be changed once the instance has ended.') : form,
    );
  }

  async function addTag(label) {
    const created = await cluster.api(buildCommand('tag', { action: 'create', label }));
    const tagId = created.getAttribute('tag-id');
    await cluster.api(buildCommand('instance', { action: 'tag', id, tag_id: tagId }), node ? { node } : {});
  }

  function refresh() {
    drawHead();
    drawActions();
    if (t.current() === 'tree') drawTree();
    else if (t.current() === 'graph') drawGraph();
    else t.select(t.current());
  }

  function onInstance(root) {
    const el = child(root, 'workflow');
    if (!el) return;
    wf = el;
    if (selected === null) selected = firstInteresting(wf);
    refresh();
  }

  const start = async () => {
    if (!node) node = await findNode(cluster, id);
    panel.node = node;
    const where = scopeFor(cluster, node);
    scope.own(
      cluster.subscribe({
        types: ['TASK_ENQUEUE', 'TASK_EXECUTE', 'TASK_TERMINATE', 'INSTANCE_TERMINATED', 'TASK_PROGRESS'],
        command: buildCommand('instance', { action: 'query', id }),
        scope: where,
        objectId: Number(id),
        onData: onInstance,
        onError: (e) =>
          replace(
            head,
            h(
              'p',
              { class: 'note error', testid: 'instance-error' },
              `Instance ${id} not loaded: ${e.describe ? e.describe() : e.message}`,
            ),
          ),
      }),
    );
    scope.own(
      cluster.subscribe({
        types: ['INSTANCE_TAGGED', 'INSTANCE_UNTAGGED'],
        command: buildCommand('instances', { action: 'list', filter_id: id }),
        scope: 'shared',
        objectId: Number(id),
        onData: (root) => {
          const row = child(root, 'workflow');
          tags = row ? Array.from(row.getElementsByTagName('tag')).map(attrsOf) : [];
          if (t.current() === 'tags') t.select('tags');
        },
      }),
    );
  };
  drawActions();
  start().catch((e) => showError(e, `Instance ${id}`));
  // "running for" follows the engine's clock between pushes (no request is made for it).
  scope.every(1000, () => {
    if (isRunning()) drawHead();
  });
  return dlg;
}
