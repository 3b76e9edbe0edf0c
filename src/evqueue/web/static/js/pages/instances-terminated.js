/**
 * The instance history panel: `instances list` with filters, paging and live refresh.
 *
 * Data: a 'shared' subscription (the history is in the shared database; events are local to
 * the node where they happen, so every node is subscribed) to INSTANCE_TERMINATED,
 * INSTANCE_TAGGED, INSTANCE_UNTAGGED and INSTANCE_REMOVED running the list command of the
 * current filters and page. A filter or page change replaces the subscription. The reply's
 * `rows` is the total, for the pager. Filters and page live in the URL.
 */

import { durationBetween, formatDuration, formatWhen } from '../format.js';
import { badge, button, busy, h, replace, table } from '../ui.js';
import { attrsOf, buildCommand, childElements } from '../wire.js';
import { deleteInstance } from './instance-actions.js';
import { describeFilters, filterForm, filtersOf, listCommand, PAGE_SIZES } from './instance-filters.js';

function statusBadge(r) {
  if (r.status && r.status !== 'TERMINATED')
    return badge(r.status.toLowerCase(), r.status === 'EXECUTING' ? 'running' : 'warn');
  return Number(r.errors || 0) > 0
    ? badge(`${r.errors} error${r.errors === '1' ? '' : 's'}`, 'error')
    : badge('success', 'ok');
}

/**
 * @param {Object} ctx page context
 * @returns {HTMLElement} the panel
 */
export function terminatedPanel(ctx) {
  const { cluster, scope, app, session } = ctx;
  let query = { ...ctx.query };
  let sub = null;
  let data = { rows: [], total: 0, loaded: false };
  const lists = { workflows: [], tags: [], nodes: cluster.nodeNames() };
  const title = h('h2', { testid: 'terminated-count' }, 'Instance history');
  const sentence = h('p', { class: 'sentence', testid: 'filter-sentence' });
  const formBox = h('details', { class: 'filter-details' });
  const listEl = h('div');
  const pagerEl = h('div', { class: 'pager', testid: 'pager' });
  const panel = h(
    'section',
    { class: 'panel', testid: 'terminated-panel' },
    h('div', { class: 'page-head' }, title),
    sentence,
    formBox,
    pagerEl,
    listEl,
  );

  const limit = () => Number(query.limit) || PAGE_SIZES[0];
  const offset = () => Number(query.offset) || 0;
  const tagLabel = (id) => (lists.tags.find((t) => t.id === id) || { label: `#${id}` }).label;

  function apply(next) {
    query = next;
    ctx.setQuery(query);
    resubscribe();
    drawForm();
  }

  function drawForm() {
    const active = Object.keys(filtersOf(query)).length > 0;
    replace(
      sentence,
      describeFilters(query, tagLabel),
      active
        ? [
            ' ',
            button('Clear filters', () => apply({ limit: query.limit }), {
              kind: 'small ghost',
              testid: 'filter-clear-inline',
            }),
          ]
        : null,
    );
    replace(
      formBox,
      h('summary', { testid: 'filter-toggle' }, 'Filters'),
      filterForm(ctx, query, lists, (f) => apply({ ...f, limit: query.limit })),
    );
    if (active) formBox.open = true;
  }

  function page(newOffset) {
    apply({ ...query, offset: newOffset > 0 ? newOffset : undefined });
  }

  function drawPager() {
    const from = data.total ? offset() + 1 : 0;
    const to = Math.min(offset() + limit(), data.total);
    const last = Math.max(0, Math.floor((data.total - 1) / limit()) * limit());
    const size = h(
      'select',
      { 'aria-label': 'Rows per page', testid: 'page-size' },
      PAGE_SIZES.map((n) => h('option', { value: n, selected: n === limit() }, `${n} per page`)),
    );
    size.addEventListener('change', () =>
      apply({
        ...query,
        limit: size.value === String(PAGE_SIZES[0]) ? undefined : size.value,
        offset: undefined,
      }),
    );
    replace(
      pagerEl,
      button('« First', () => page(0), { kind: 'small', disabled: offset() === 0, testid: 'page-first' }),
      button('‹ Previous', () => page(offset() - limit()), {
        kind: 'small',
        disabled: offset() === 0,
        testid: 'page-prev',
      }),
      h('span', { testid: 'page-range' }, `${from}–${to} of ${data.total}`),
      button('Next ›', () => page(offset() + limit()), {
        kind: 'small',
        disabled: to >= data.total,
        testid: 'page-next',
      }),
      button('Last »', () => page(last), { kind: 'small', disabled: to >= data.total, testid: 'page-last' }),
      size,
    );
  }

  function render() {
    replace(title, `Instance history (${data.total})`);
    drawPager();
    replace(
      listEl,
      table({
        testid: 'terminated-table',
        rowTestid: 'terminated-row',
        rows: data.rows,
        empty: data.loaded ? 'No instance matches.' : 'Loading…',
        rowData: (r) => ({ id: r.id, node: r.node_name }),
        onRowClick: (r) => app.openInstance(r.id, r.node_name),
        columns: [
          { label: 'Result', render: statusBadge },
          { label: 'Id', class: 'num', render: (r) => r.id },
          {
            label: 'Workflow',
            render: (r) => [
              h('strong', {}, r.name),
              r.comment ? h('div', { class: 'note' }, r.comment) : null,
            ],
          },
          {
            label: 'Duration',
            render: (r) => (r.end_time ? formatDuration(durationBetween(r.start_time, r.end_time)) : ''),
          },
          { label: 'Tags', render: (r) => r.tags.map((t) => h('span', { class: 'tag' }, t.label)) },
          { label: 'Node', render: (r) => r.node_name },
          { label: 'Host', render: (r) => r.host || 'localhost' },
          { label: 'Started', render: (r) => formatWhen(r.start_time) },
          { label: 'Ended', render: (r) => formatWhen(r.end_time) },
          {
            label: '',
            class: 'actions',
            render: (r) =>
              session.isAdmin && r.status === 'TERMINATED'
                ? button(
                    'Delete',
                    () => busy(null, () => deleteInstance(cluster, r.id, ''), 'Delete failed'),
                    { kind: 'small danger', testid: 'instance-delete' },
                  )
                : '',
          },
        ],
      }),
    );
  }

  function resubscribe() {
    if (sub) sub.close();
    data = { ...data, loaded: false };
    sub = cluster.subscribe({
      types: ['INSTANCE_TAGGED', 'INSTANCE_UNTAGGED', 'INSTANCE_REMOVED', 'INSTANCE_TERMINATED'],
      command: listCommand(query),
      scope: 'shared',
      onData: (root) => {
        data = {
          loaded: true,
          total: Number(root.getAttribute('rows')) || 0,
          rows: childElements(root, 'workflow').map((w) => ({
            ...attrsOf(w),
            tags: Array.from(w.getElementsByTagName('tag')).map(attrsOf),
          })),
        };
        render();
      },
      onError: (e) => replace(listEl, h('p', { class: 'note error' }, `History not loaded: ${e.message}`)),
    });
  }

  // Lists for the filter form: workflows (live) and tags (admin only; ignored when refused).
  scope.own(
    cluster.subscribe({
      types: ['WORKFLOW_CREATED', 'WORKFLOW_MODIFIED', 'WORKFLOW_REMOVED'],
      command: buildCommand('workflows', { action: 'list' }),
      onData: (root) => {
        lists.workflows = childElements(root, 'workflow')
          .map(attrsOf)
          .sort((a, b) => a.name.localeCompare(b.name));
        if (!formBox.contains(document.activeElement)) drawForm();
      },
    }),
  );
  if (session.isAdmin) {
    scope.own(
      cluster.subscribe({
        types: ['TAG_CREATED', 'TAG_MODIFIED', 'TAG_REMOVED'],
        command: buildCommand('tags', { action: 'list' }),
        onData: (root) => {
          lists.tags = childElements(root, 'tag').map(attrsOf);
          if (!formBox.contains(document.activeElement)) drawForm();
        },
      }),
    );
  }
  scope.add(
    cluster.onChange(() => {
      lists.nodes = cluster.nodeNames();
    }),
  );
  scope.add(() => {
    if (sub) sub.close();
  });
  drawForm();
  resubscribe();
  render();
  return panel;
}
