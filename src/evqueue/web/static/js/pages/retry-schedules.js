/**
 * Retry schedules: named lists of levels "retry every N seconds, M times", used by tasks'
 * retry_schedule attribute. CRUD plus "where used" (deletion refused while in use).
 *
 * Data: RETRYSCHEDULE_CREATED/MODIFIED/REMOVED running `<retry_schedules action="list"/>`
 * (rows `<schedule id name><level retry_delay retry_times/>…</schedule>`). Save sends
 * `retry_schedule create|edit name content=base64(<schedule><level …/>…</schedule>)`.
 */

import { errorBox, field } from '../forms.js';
import { formatDuration } from '../format.js';
import { busy, button, confirmDialog, h, openDialog, replace, table, toast } from '../ui.js';
import { base64Encode, buildCommand, childElements } from '../wire.js';
import { watchUsage } from './usage.js';

/** "every 10 s, 3 times, then every 10 min 00 s, 2 times". */
export function describeLevels(levels) {
  return levels
    .map(
      (l) => `every ${formatDuration(Number(l.delay))}, ${l.times} time${Number(l.times) === 1 ? '' : 's'}`,
    )
    .join(', then ');
}

/** The schedule XML of levels [{delay, times}]. */
export function scheduleXml(levels) {
  return `<schedule>${levels.map((l) => `<level retry_delay="${Number(l.delay)}" retry_times="${Number(l.times)}"/>`).join('')}</schedule>`;
}

function editDialog(cluster, s) {
  const levels = s ? s.levels.map((l) => ({ ...l })) : [{ delay: 60, times: 3 }];
  const errors = errorBox('retry-error');
  const name = h('input', {
    type: 'text',
    required: true,
    pattern: '[A-Za-z0-9_\\-]{1,64}',
    value: s ? s.name : '',
    testid: 'retry-name',
    autofocus: true,
  });
  const rowsEl = h('div');
  const preview = h('p', { class: 'note', testid: 'retry-preview' });
  const draw = () => {
    replace(
      rowsEl,
      levels.map((l, i) => {
        const delay = h('input', {
          type: 'number',
          min: 1,
          required: true,
          value: l.delay,
          testid: 'retry-delay',
          'aria-label': `Level ${i + 1} delay in seconds`,
        });
        const times = h('input', {
          type: 'number',
          min: 1,
          required: true,
          value: l.times,
          testid: 'retry-times',
          'aria-label': `Level ${i + 1} times`,
        });
        delay.addEventListener('input', () => {
          l.delay = delay.value;
          preview.textContent = describeLevels(levels);
        });
        times.addEventListener('input', () => {
          l.times = times.value;
          preview.textContent = describeLevels(levels);
        });
        return h(
          'div',
          { class: 'toolbar', testid: 'retry-level' },
          `${i ? 'then retry' : 'If a task fails, retry'} every`,
          delay,
          'seconds,',
          times,
          'times',
          levels.length > 1
            ? button(
                'Remove',
                () => {
                  levels.splice(i, 1);
                  draw();
                },
                { kind: 'small', testid: 'retry-level-remove' },
              )
            : null,
        );
      }),
    );
    preview.textContent = describeLevels(levels);
  };
  draw();
  const submit = button('Save', null, { kind: 'primary', type: 'submit', testid: 'retry-submit' });
  const form = h(
    'form',
    { class: 'form' },
    field('Name', name),
    rowsEl,
    button(
      'Add a level',
      () => {
        levels.push({ delay: 600, times: 1 });
        draw();
      },
      { kind: 'small', testid: 'retry-level-add' },
    ),
    preview,
    errors.el,
    h(
      'div',
      { class: 'form-actions' },
      button('Cancel', () => dlg.close()),
      submit,
    ),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errors.clear();
    submit.disabled = true;
    try {
      await cluster.api(
        buildCommand('retry_schedule', {
          action: s ? 'edit' : 'create',
          id: s ? s.id : undefined,
          name: name.value.trim(),
          content: base64Encode(scheduleXml(levels)),
        }),
      );
      toast(`Retry schedule ${name.value} saved`, 'success');
      dlg.close();
    } catch (e) {
      errors.show(e);
    } finally {
      submit.disabled = false;
    }
  });
  const dlg = openDialog({
    title: s ? `Retry schedule ${s.name}` : 'New retry schedule',
    body: form,
    testid: 'retry-dialog',
  });
}

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, session, scope } = ctx;
  let items = [];
  let usage = new Map();
  const listEl = h('div');
  ctx.el.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Retry schedules'),
      session.isAdmin
        ? button('New retry schedule', () => editDialog(cluster, null), {
            kind: 'primary',
            testid: 'retry-new',
          })
        : null,
    ),
    h(
      'p',
      { class: 'note' },
      "A task naming a retry schedule is run again when it fails, at each level's pace.",
    ),
    listEl,
  );

  const remove = async (s) => {
    if (!(await confirmDialog(`Delete retry schedule ${s.name}?`, { confirmLabel: 'Delete', danger: true })))
      return;
    await cluster.api(buildCommand('retry_schedule', { action: 'delete', id: s.id }));
    toast(`Retry schedule ${s.name} deleted`, 'success');
  };

  function render() {
    replace(
      listEl,
      table({
        testid: 'retry-table',
        rowTestid: 'retry-row',
        rowData: (s) => ({ name: s.name }),
        rows: items,
        empty: 'No retry schedule.',
        columns: [
          { label: 'Name', render: (s) => h('strong', {}, s.name) },
          { label: 'Levels', render: (s) => describeLevels(s.levels) },
          { label: 'Used by', render: (s) => (usage.get(s.name) || []).join(', ') },
          {
            label: '',
            class: 'actions',
            render: (s) =>
              session.isAdmin
                ? [
                    button('Edit', () => editDialog(cluster, s), { kind: 'small', testid: 'retry-edit' }),
                    ' ',
                    button('Delete', () => busy(null, () => remove(s), 'Delete failed'), {
                      kind: 'small danger',
                      testid: 'retry-delete',
                      disabled: (usage.get(s.name) || []).length > 0,
                      title: (usage.get(s.name) || []).length ? 'In use by workflows' : '',
                    }),
                  ]
                : '',
          },
        ],
      }),
    );
  }

  scope.own(
    cluster.subscribe({
      types: ['RETRYSCHEDULE_CREATED', 'RETRYSCHEDULE_MODIFIED', 'RETRYSCHEDULE_REMOVED'],
      command: buildCommand('retry_schedules', { action: 'list' }),
      onData: (root) => {
        items = childElements(root, 'schedule')
          .map((s) => ({
            id: s.getAttribute('id'),
            name: s.getAttribute('name'),
            levels: childElements(s, 'level').map((l) => ({
              delay: l.getAttribute('retry_delay'),
              times: l.getAttribute('retry_times'),
            })),
          }))
          .sort((a, b) => a.name.localeCompare(b.name));
        render();
      },
    }),
  );
  watchUsage(cluster, scope, 'retry_schedule', (u) => {
    usage = u;
    render();
  });
  render();
}
