/**
 * Nodes: every node of the cluster with its state, version, uptime and running instances, and
 * the choice of the preferred node (the launch dialog's default).
 *
 * Data: the node list and states come from cluster.js; uptime from one `<ping/>` per node
 * (then counted locally); running instances from a per-node subscription to
 * INSTANCE_STARTED/INSTANCE_TERMINATED running `<status action="query" type="workflows"/>`
 * (its `count` is the number running on that node). No polling.
 */

import { State } from '../connection.js';
import { formatDuration, formatWhen } from '../format.js';
import { badge, button, busy, h, replace, showError, table } from '../ui.js';
import { buildCommand } from '../wire.js';

const STATE_KIND = {
  READY: 'ok',
  CONNECTING: 'running',
  AUTHENTICATING: 'running',
  ERROR: 'error',
  DISCONNECTED: '',
};

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, session, scope } = ctx;
  const running = new Map(); // node -> count
  const pings = new Map(); // node -> {uptime, at, version}
  const body = h('div');
  const refreshBtn = button(
    'Refresh node list',
    () =>
      busy(refreshBtn, async () => {
        await cluster.discover();
        await ping();
      }),
    { testid: 'nodes-refresh' },
  );
  ctx.el.append(h('div', { class: 'page-head' }, h('h1', {}, 'Nodes'), refreshBtn), body);

  const ping = async () => {
    for (const r of await cluster.apiAll(buildCommand('ping'))) {
      if (r.root) {
        pings.set(r.node, {
          uptime: Number(r.root.getAttribute('uptime')) || 0,
          at: Date.now(),
          version: r.root.getAttribute('version') || '',
        });
      }
    }
    render();
  };

  const uptime = (n) => {
    const p = pings.get(n.name);
    return p && n.state === State.READY ? formatDuration(p.uptime + (Date.now() - p.at) / 1000) : '';
  };

  const choose = (name) =>
    busy(
      null,
      async () => {
        await session.savePreferences({ preferred_node: name });
        render();
      },
      'Preference not saved',
    );

  function render() {
    const preferred = session.preferences.preferred_node;
    replace(
      body,
      h(
        'p',
        { class: 'note' },
        'The preferred node runs the instances you launch unless you pick another one.',
      ),
      table({
        testid: 'nodes-table',
        rowTestid: 'node-row',
        rowData: (n) => ({ node: n.name, state: n.state }),
        rows: cluster.nodes,
        columns: [
          {
            label: 'Node',
            render: (n) => [h('strong', {}, n.name || '?'), n === cluster.self ? ' (this page)' : ''],
          },
          {
            label: 'State',
            render: (n) => [
              badge(n.state === State.READY ? 'up' : n.state.toLowerCase(), STATE_KIND[n.state]),
              n.error && n.state !== State.READY ? h('div', { class: 'error-text' }, n.error.message) : null,
            ],
          },
          { label: 'Version', render: (n) => (n.greeting ? n.greeting.version : n.info.version || '') },
          {
            label: 'Uptime',
            render: (n) => h('span', { class: 'uptime', dataset: { node: n.name } }, uptime(n)),
          },
          {
            label: 'Running',
            class: 'num',
            render: (n) => (running.has(n.name) ? String(running.get(n.name)) : ''),
          },
          { label: 'Started', render: (n) => formatWhen(n.info.started || '') },
          { label: 'Heartbeat', render: (n) => formatWhen(n.info.heartbeat || '') },
          { label: 'Address', render: (n) => h('code', {}, n.url) },
          {
            label: 'Modules',
            render: (n) => (n.greeting ? n.greeting.modules.map((m) => m.name).join(', ') : ''),
          },
          {
            label: '',
            class: 'actions',
            render: (n) =>
              n.name === preferred
                ? badge('preferred', 'ok')
                : button('Prefer', () => choose(n.name), {
                    kind: 'small',
                    testid: 'node-prefer',
                    title: `Launch on ${n.name} by default`,
                  }),
          },
        ],
      }),
      preferred ? button('Clear preference', () => choose(''), { kind: 'ghost' }) : null,
    );
  }

  scope.add(cluster.onChange(() => render()));
  scope.own(
    cluster.subscribe({
      types: ['INSTANCE_STARTED', 'INSTANCE_TERMINATED'],
      command: buildCommand('status', { action: 'query', type: 'workflows', limit: 1 }),
      scope: 'each',
      onData: (root, node) => {
        running.set(node, Number(root.getAttribute('count')) || 0);
        render();
      },
    }),
  );
  scope.every(1000, () => {
    for (const el of body.querySelectorAll('.uptime')) {
      const n = cluster.node(el.dataset.node);
      if (n) el.textContent = uptime(n);
    }
  });
  render();
  ping().catch((e) => showError(e, 'Ping failed'));
}
