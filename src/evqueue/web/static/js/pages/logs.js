/**
 * Engine logs, API logs and notification logs, live, with paging, a level filter (engine
 * logs) and a text filter over the page. Route '/logs/engine|api|notifications'.
 *
 * Data: LOG_ENGINE / LOG_API / LOG_NOTIFICATION running `logs` / `logsapi` /
 * `logsnotifications` `list` with limit and offset ('shared': the logs are in the database).
 * The engine sends no total, so "next" is offered while a page comes back full. Pause stops
 * the subscription (nothing moves while you read).
 */

import { options } from '../forms.js';
import { formatWhen } from '../format.js';
import { badge, button, h, replace, table } from '../ui.js';
import { attrsOf, buildCommand, child, childElements } from '../wire.js';

const LEVELS = [
  'LOG_EMERG',
  'LOG_ALERT',
  'LOG_CRIT',
  'LOG_ERR',
  'LOG_WARNING',
  'LOG_NOTICE',
  'LOG_INFO',
  'LOG_DEBUG',
];
const LEVEL_KIND = {
  LOG_EMERG: 'error',
  LOG_ALERT: 'error',
  LOG_CRIT: 'error',
  LOG_ERR: 'error',
  LOG_WARNING: 'warn',
  LOG_NOTICE: 'running',
};

const KINDS = {
  engine: {
    title: 'Engine logs',
    group: 'logs',
    event: 'LOG_ENGINE',
    columns: [
      { label: 'Time', render: (l) => formatWhen(l.timestamp) },
      {
        label: 'Level',
        render: (l) => badge((l.level || '').replace('LOG_', '').toLowerCase(), LEVEL_KIND[l.level] || ''),
      },
      { label: 'Node', render: (l) => l.node },
      { label: 'Message', render: (l) => h('span', { class: 'mono' }, l.message) },
    ],
  },
  api: {
    title: 'API logs',
    group: 'logsapi',
    event: 'LOG_API',
    columns: [
      { label: 'Time', render: (l) => formatWhen(l.timestamp) },
      { label: 'User', render: (l) => l.user },
      { label: 'Command', render: (l) => `${l.group} ${l.action}` },
      {
        label: 'Object',
        render: (l) =>
          `${l.object_type || ''} ${l.object_name || ''}${l.object_id ? ` #${l.object_id}` : ''}`,
      },
      { label: 'Node', render: (l) => l.node },
    ],
  },
  notifications: {
    title: 'Notification logs',
    group: 'logsnotifications',
    event: 'LOG_NOTIFICATION',
    columns: [
      { label: 'Time', render: (l) => formatWhen(l.timestamp) },
      { label: 'PID', class: 'num', render: (l) => l.pid },
      { label: 'Node', render: (l) => l.node },
      { label: 'Message', render: (l) => h('span', { class: 'mono' }, l.message) },
    ],
  },
};

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, scope, session } = ctx;
  const kind = KINDS[ctx.params.kind];
  if (!kind) {
    ctx.el.append(h('p', { class: 'note error' }, `Unknown log kind ${ctx.params.kind}.`));
    return;
  }
  const q = {
    limit: Number(ctx.query.limit) || 100,
    offset: Number(ctx.query.offset) || 0,
    level: ctx.query.level || '',
  };
  let rows = [];
  let sub = null;
  let paused = false;
  const filter = h('input', {
    type: 'search',
    class: 'filter-box',
    placeholder: 'Filter this page  ( / )',
    'aria-label': 'Filter log lines',
    testid: 'logs-filter',
    dataset: { role: 'filter' },
  });
  const level =
    ctx.params.kind === 'engine'
      ? h(
          'select',
          { testid: 'logs-level', 'aria-label': 'Lowest level shown' },
          options(
            [
              { value: '', label: 'All levels' },
              ...LEVELS.map((l) => ({ value: l, label: `${l.replace('LOG_', '').toLowerCase()} and worse` })),
            ],
            q.level,
          ),
        )
      : null;
  const pause = button(
    'Pause',
    () => {
      paused = !paused;
      pause.setAttribute('aria-pressed', String(paused));
      replace(pause, paused ? 'Resume' : 'Pause');
      subscribe();
    },
    { testid: 'logs-pause' },
  );
  pause.setAttribute('aria-pressed', 'false');
  const pager = h('div', { class: 'pager' });
  const listEl = h('div');
  const filters = h('p', { class: 'note', testid: 'logs-db-filter' });
  ctx.el.append(
    h('div', { class: 'page-head' }, h('h1', {}, kind.title), filter, level, pause),
    filters,
    pager,
    listEl,
  );

  function go(offset) {
    q.offset = Math.max(0, offset);
    ctx.setQuery({
      offset: q.offset || undefined,
      level: q.level || undefined,
      limit: q.limit === 100 ? undefined : q.limit,
    });
    subscribe();
  }

  function render() {
    const text = filter.value.trim().toLowerCase();
    const shown = text
      ? rows.filter((r) => Object.values(r).some((v) => String(v).toLowerCase().includes(text)))
      : rows;
    replace(
      pager,
      button('‹ Newer', () => go(q.offset - q.limit), {
        kind: 'small',
        disabled: q.offset === 0,
        testid: 'page-prev',
      }),
      h(
        'span',
        { testid: 'page-range' },
        `entries ${rows.length ? q.offset + 1 : 0}–${q.offset + rows.length}`,
      ),
      button('Older ›', () => go(q.offset + q.limit), {
        kind: 'small',
        disabled: rows.length < q.limit,
        testid: 'page-next',
      }),
      paused ? badge('paused', 'warn') : badge('live', 'running'),
    );
    replace(
      listEl,
      table({
        testid: 'logs-table',
        rowTestid: 'log-row',
        rows: shown,
        columns: kind.columns,
        empty: 'No entry.',
      }),
    );
  }

  function subscribe() {
    if (sub) sub.close();
    sub = null;
    const command = buildCommand(kind.group, {
      action: 'list',
      limit: q.limit,
      offset: q.offset,
      filter_level: q.level || undefined,
    });
    const onData = (root) => {
      rows = childElements(root, 'log').map(attrsOf);
      render();
    };
    if (paused) {
      cluster
        .api(command)
        .then(onData)
        .catch(() => {});
      return;
    }
    sub = cluster.subscribe({
      types: [kind.event],
      command,
      onData,
      onError: (e) => replace(listEl, h('p', { class: 'note error' }, `Logs not loaded: ${e.message}`)),
    });
  }

  filter.addEventListener('input', render);
  if (level)
    level.addEventListener('change', () => {
      q.level = level.value;
      go(0);
    });
  scope.add(() => {
    if (sub) sub.close();
  });
  if (ctx.params.kind === 'engine' && session.isAdmin) {
    cluster.apiAll(buildCommand('status', { action: 'query', type: 'configuration' })).then((results) => {
      const parts = results
        .filter((r) => r.root)
        .map((r) => {
          const entry = childElements(child(r.root, 'configuration') || r.root, 'entry').find(
            (e) => e.getAttribute('name') === 'logger.db.filter',
          );
          return `${r.node}: ${entry ? entry.getAttribute('value') : '?'}`;
        });
      if (parts.length)
        replace(filters, `Levels stored in the database (logger.db.filter) — ${parts.join(', ')}`);
    });
  }
  subscribe();
  render();
}
