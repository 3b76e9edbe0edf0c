/**
 * Workflow schedules: what runs when, where, its next run (from the engines' schedulers) and
 * its last run, with run now, suspend/resume (lock/unlock), edit and delete.
 *
 * Data (frontend.md §2.7):
 * - WORKFLOWSCHEDULE_CREATED/MODIFIED/REMOVED running
 *   `<workflow_schedules action="list" display_parameters="yes"/>` ('shared');
 * - WORKFLOWSCHEDULE_CREATED/MODIFIED/STARTED/STOPPED running `<status action="query"
 *   type="scheduler"/>` on 'each' node: every engine reports the next run of the schedules it
 *   owns; the maps are merged by schedule id. A push with `object-id` refreshes that schedule's
 *   last run (`instances list filter_schedule_id=… limit=1`).
 */

import { formatWhen } from '../format.js';
import { describeSchedule, parseSchedule } from '../schedule.js';
import { badge, busy, button, confirmDialog, h, replace, table, toast } from '../ui.js';
import { attrsOf, buildCommand, child, childElements } from '../wire.js';
import { groupRows } from './workflows.js';
import { openScheduleDialog } from './schedule-dialog.js';

function whenText(text) {
  try {
    return describeSchedule(parseSchedule(text));
  } catch (e) {
    return `invalid: ${e.message}`;
  }
}

const isActive = (s) => s.active === 'yes' || s.active === '1';

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, scope, app, router } = ctx;
  let items = [];
  const next = new Map(); // node -> Map(schedule id -> {scheduled_at, workflow_instance_id})
  const last = new Map(); // schedule id -> instance attrs
  const title = h('h1', { testid: 'schedules-title' }, 'Workflow schedules');
  const filter = h('input', {
    type: 'search',
    class: 'filter-box',
    placeholder: 'Filter schedules  ( / )',
    'aria-label': 'Filter schedules',
    testid: 'schedules-filter',
    dataset: { role: 'filter' },
  });
  const listEl = h('div');
  ctx.el.append(
    h(
      'div',
      { class: 'page-head' },
      title,
      filter,
      button('New schedule', () => openScheduleDialog({ cluster }), {
        kind: 'primary',
        testid: 'schedule-new',
      }),
    ),
    listEl,
  );

  const loadLast = async (id) => {
    try {
      const root = await cluster.api(
        buildCommand('instances', { action: 'list', filter_schedule_id: id, limit: 1 }),
      );
      const row = child(root, 'workflow');
      if (row) last.set(id, attrsOf(row));
      else last.delete(id);
      render();
    } catch (e) {
      console.warn('last run not loaded', e);
    }
  };

  const nextRun = (id) => {
    for (const [node, map] of next) {
      const n = map.get(id);
      if (n) return { ...n, node };
    }
    return null;
  };

  const act = (s, action, done) =>
    busy(
      null,
      async () => {
        await cluster.api(buildCommand('workflow_schedule', { action, id: s.id }));
        toast(done, 'success');
      },
      `${action} failed`,
    );

  async function remove(s) {
    if (
      !(await confirmDialog(`Delete the schedule of ${s.workflow_name} (${whenText(s.schedule)})?`, {
        confirmLabel: 'Delete',
        danger: true,
      }))
    )
      return;
    await cluster.api(buildCommand('workflow_schedule', { action: 'delete', id: s.id }));
    toast('Schedule deleted', 'success');
  }

  function lastCell(s) {
    const l = last.get(s.id);
    if (!l) return '';
    const ok = Number(l.errors || 0) === 0;
    return h(
      'a',
      {
        href: '#',
        on: {
          click: (ev) => {
            ev.preventDefault();
            app.openInstance(l.id, l.node_name);
          },
        },
      },
      badge(
        l.status === 'EXECUTING' ? 'running' : ok ? 'success' : 'failed',
        l.status === 'EXECUTING' ? 'running' : ok ? 'ok' : 'error',
      ),
      ` ${formatWhen(l.start_time)}`,
    );
  }

  function nextCell(s) {
    const n = nextRun(s.id);
    if (!isActive(s)) return h('span', { class: 'note' }, 'suspended');
    if (!n) return '';
    if (n.scheduled_at === 'running') {
      return h(
        'a',
        {
          href: '#',
          on: {
            click: (ev) => {
              ev.preventDefault();
              app.openInstance(n.workflow_instance_id, n.node);
            },
          },
        },
        badge('running now', 'running'),
      );
    }
    return `${formatWhen(n.scheduled_at)} on ${n.node}`;
  }

  function render() {
    const text = filter.value.trim().toLowerCase();
    const shown = items.filter(
      (s) =>
        !text ||
        [s.workflow_name, s.workflow_group, s.comment, s.node].some((v) =>
          (v || '').toLowerCase().includes(text),
        ),
    );
    replace(title, `Workflow schedules (${items.filter(isActive).length} active of ${items.length})`);
    replace(
      listEl,
      table({
        testid: 'schedules-table',
        rowTestid: 'schedule-row',
        rows: groupRows(shown.map((s) => ({ ...s, name: s.workflow_name, group: s.workflow_group }))),
        rowData: (s) => (s.header ? { group: s.header } : { id: s.id }),
        rowClass: (s) => (s.header ? 'group-row' : ''),
        empty: 'No schedule.',
        columns: [
          {
            label: 'Workflow',
            render: (s) =>
              s.header
                ? s.header
                : [
                    h('strong', {}, s.workflow_name),
                    Object.keys(s.parameters).length
                      ? h(
                          'div',
                          { class: 'note mono' },
                          Object.entries(s.parameters)
                            .map(([k, v]) => `${k}=${v}`)
                            .join(' '),
                        )
                      : null,
                    s.comment ? h('div', { class: 'note' }, s.comment) : null,
                  ],
          },
          {
            label: 'When',
            render: (s) => (s.header ? '' : h('span', { title: s.schedule }, whenText(s.schedule))),
          },
          { label: 'Node', render: (s) => (s.header ? '' : s.node || 'all') },
          { label: 'On failure', render: (s) => (s.header ? '' : (s.onfailure || '').toLowerCase()) },
          { label: 'Remote', render: (s) => (s.host ? `${s.user ? `${s.user}@` : ''}${s.host}` : '') },
          { label: 'Next run', render: (s) => (s.header ? '' : nextCell(s)) },
          { label: 'Last run', render: (s) => (s.header ? '' : lastCell(s)) },
          {
            label: '',
            class: 'actions',
            render: (s) =>
              s.header
                ? ''
                : [
                    button(
                      'Run now',
                      () =>
                        app.openLaunch({
                          workflowId: s.workflow_id,
                          name: s.workflow_name,
                          parameters: s.parameters,
                          user: s.user,
                          host: s.host,
                          comment: `Run now from schedule ${s.id}`,
                        }),
                      { kind: 'small', testid: 'schedule-run-now' },
                    ),
                    ' ',
                    isActive(s)
                      ? button('Suspend', () => act(s, 'lock', 'Schedule suspended'), {
                          kind: 'small',
                          testid: 'schedule-lock',
                        })
                      : button('Resume', () => act(s, 'unlock', 'Schedule resumed'), {
                          kind: 'small',
                          testid: 'schedule-unlock',
                        }),
                    ' ',
                    button('History', () => router.go('/instances', { schedule: s.id }), {
                      kind: 'small',
                      testid: 'schedule-history',
                    }),
                    ' ',
                    button('Edit', () => openScheduleDialog({ cluster, schedule: s }), {
                      kind: 'small',
                      testid: 'schedule-edit',
                    }),
                    ' ',
                    button('Delete', () => busy(null, () => remove(s), 'Delete failed'), {
                      kind: 'small danger',
                      testid: 'schedule-delete',
                    }),
                  ],
          },
        ],
      }),
    );
  }

  filter.addEventListener('input', render);
  scope.own(
    cluster.subscribe({
      types: ['WORKFLOWSCHEDULE_MODIFIED', 'WORKFLOWSCHEDULE_REMOVED', 'WORKFLOWSCHEDULE_CREATED'],
      command: buildCommand('workflow_schedules', { action: 'list', display_parameters: 'yes' }),
      onData: (root) => {
        const first = items.length === 0;
        items = childElements(root, 'workflow_schedule').map((el) => ({
          ...attrsOf(el),
          parameters: Object.fromEntries(
            childElements(el, 'parameter').map((p) => [
              p.getAttribute('name'),
              p.getAttribute('value') ?? p.textContent,
            ]),
          ),
        }));
        render();
        if (first) items.forEach((s) => loadLast(s.id));
      },
    }),
  );
  scope.own(
    cluster.subscribe({
      types: [
        'WORKFLOWSCHEDULE_MODIFIED',
        'WORKFLOWSCHEDULE_CREATED',
        'WORKFLOWSCHEDULE_STARTED',
        'WORKFLOWSCHEDULE_STOPPED',
      ],
      command: buildCommand('status', { action: 'query', type: 'scheduler' }),
      scope: 'each',
      onData: (root, node) => {
        const box = child(root, 'status') || root;
        next.set(
          node,
          new Map(
            childElements(box, 'workflow').map((w) => [w.getAttribute('workflow_schedule_id'), attrsOf(w)]),
          ),
        );
        for (const id of (root.getAttribute('object-id') || '').split(',').filter(Boolean)) loadLast(id);
        render();
      },
    }),
  );
  render();
}
