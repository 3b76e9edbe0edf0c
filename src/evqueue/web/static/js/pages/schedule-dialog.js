/**
 * Create/edit a workflow schedule: the workflow and its parameters, when it runs (daily at a
 * time, a custom pick of seconds/minutes/hours/days/months/weekdays, or the raw 6-field
 * string), where (a node, any one node, all nodes), on-failure policy, remote user/host,
 * comment and active state. A sentence and the next five runs preview the schedule.
 *
 * Sends `workflow_schedule create|edit workflow_id schedule onfailure user host node active
 * comment` with `<parameter name value/>` children. `active` follows the checkbox (evQueue's
 * editor always re-enabled the schedule, frontend.md §6.9); days and months are written
 * 0-based as the engine reads them.
 */

import { errorBox, field, options } from '../forms.js';
import { button, h, openDialog, replace, toast } from '../ui.js';
import { attrsOf, buildCommand, child, childElements } from '../wire.js';
import {
  dailyTime,
  describeSchedule,
  formatSchedule,
  MONTHS,
  nextRuns,
  parseSchedule,
  WEEKDAYS,
} from '../schedule.js';

const two = (n) => String(n).padStart(2, '0');

function checkGrid(name, labels, selected, onChange) {
  const box = h('fieldset', { class: 'check-grid', testid: `schedule-${name}` }, h('legend', {}, name));
  labels.forEach((label, value) => {
    const cb = h('input', {
      type: 'checkbox',
      value,
      checked: selected.includes(value),
      'aria-label': `${name} ${label}`,
    });
    cb.addEventListener('change', onChange);
    box.append(h('label', {}, cb, label));
  });
  return box;
}

const checked = (box) => Array.from(box.querySelectorAll('input:checked')).map((c) => Number(c.value));

function numberList(text) {
  return text
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .join(',');
}

/** The "when" editor; returns {el, value()} where value() is the schedule string. */
function whenEditor(initial) {
  let parsed;
  try {
    parsed = parseSchedule(initial || '0;0;0;;;');
  } catch {
    parsed = parseSchedule('0;0;0;;;');
  }
  const mode = h(
    'select',
    { testid: 'schedule-mode', 'aria-label': 'Schedule type' },
    options(
      [
        { value: 'daily', label: 'Every day at a time' },
        { value: 'custom', label: 'Custom' },
        { value: 'raw', label: 'Schedule string' },
      ],
      dailyTime(parsed) ? 'daily' : 'custom',
    ),
  );
  const daily = dailyTime(parsed) || { hour: 0, minute: 0 };
  const time = h('input', {
    type: 'time',
    value: `${two(daily.hour)}:${two(daily.minute)}`,
    testid: 'schedule-time',
    'aria-label': 'Time of day',
  });
  const text = (name, list, help) =>
    h('input', {
      type: 'text',
      value: list.join(','),
      testid: `schedule-${name}`,
      placeholder: 'any',
      'aria-label': name,
      title: help,
    });
  const secs = text('seconds', parsed.seconds, '0–59, comma separated');
  const mins = text('minutes', parsed.minutes, '0–59, comma separated');
  const hours = text('hours', parsed.hours, '0–23, comma separated');
  const raw = h('input', {
    type: 'text',
    class: 'mono',
    value: initial || formatSchedule(parsed),
    testid: 'schedule-raw',
    'aria-label': 'Schedule string',
  });
  const preview = h('div', { class: 'preview', testid: 'schedule-preview', role: 'status' });
  const update = () => {
    const value = current();
    if (mode.value !== 'raw') raw.value = value;
    try {
      const s = parseSchedule(value);
      replace(
        preview,
        h('strong', {}, describeSchedule(s)),
        h(
          'ul',
          { class: 'note' },
          nextRuns(s, new Date(), 5).map((d) => h('li', {}, d.toLocaleString())),
        ),
      );
    } catch (e) {
      replace(preview, h('span', { class: 'error-text' }, e.message));
    }
  };
  const days = checkGrid(
    'days',
    Array.from({ length: 31 }, (_, i) => String(i + 1)),
    parsed.days,
    update,
  );
  const months = checkGrid(
    'months',
    MONTHS.map((m) => m.slice(0, 3)),
    parsed.months,
    update,
  );
  const weekdays = checkGrid(
    'weekdays',
    WEEKDAYS.map((d) => d.slice(0, 3)),
    parsed.weekdays,
    update,
  );
  const custom = h(
    'div',
    {},
    h('div', { class: 'inline-form' }, field('Hours', hours), field('Minutes', mins), field('Seconds', secs)),
    days,
    months,
    weekdays,
    h('small', { class: 'help' }, 'Nothing ticked means every one. Day and weekday must both match.'),
  );
  function current() {
    if (mode.value === 'daily') {
      const [hh, mm] = (time.value || '00:00').split(':').map(Number);
      return `0;${mm};${hh};;;`;
    }
    if (mode.value === 'raw') return raw.value.trim();
    return [
      numberList(secs.value),
      numberList(mins.value),
      numberList(hours.value),
      checked(days).join(','),
      checked(months).join(','),
      checked(weekdays).join(','),
    ].join(';');
  }
  const panes = {
    daily: field('Time', time),
    custom,
    raw: field('Schedule string', raw, 'sec;min;hour;day;month;weekday — days and months count from 0'),
  };
  const paneBox = h('div');
  const showPane = () => {
    replace(paneBox, panes[mode.value]);
    update();
  };
  mode.addEventListener('change', showPane);
  for (const el of [time, secs, mins, hours, raw]) el.addEventListener('input', update);
  showPane();
  return { el: h('div', { class: 'when' }, field('Runs', mode), paneBox, preview), value: current };
}

/**
 * Open the dialog. o: {cluster, schedule (attrs + parameters) or null, preset: {workflowId}}.
 */
export function openScheduleDialog({ cluster, schedule = null }) {
  const s = schedule || { node: 'any', onfailure: 'CONTINUE', active: 'yes', parameters: {} };
  const errors = errorBox('schedule-error');
  const workflow = h(
    'select',
    { required: true, testid: 'schedule-workflow', autofocus: true },
    h('option', { value: '' }, 'Loading…'),
  );
  const params = h('div', { testid: 'schedule-parameters' });
  const when = whenEditor(s.schedule || '0;0;0;;;');
  const node = h(
    'select',
    { testid: 'schedule-node' },
    options(
      [
        { value: 'any', label: 'Any one node' },
        { value: 'all', label: 'Every node' },
        ...cluster.nodeNames().map((n) => ({ value: n, label: n })),
      ],
      s.node || 'any',
    ),
  );
  const onfailure = h(
    'select',
    { testid: 'schedule-onfailure' },
    options(
      [
        { value: 'CONTINUE', label: 'Continue: keep the schedule' },
        { value: 'SUSPEND', label: 'Suspend the schedule' },
      ],
      s.onfailure,
    ),
  );
  const user = h('input', { type: 'text', value: s.user || '', testid: 'schedule-user' });
  const host = h('input', { type: 'text', value: s.host || '', testid: 'schedule-host' });
  const comment = h('input', { type: 'text', value: s.comment || '', testid: 'schedule-comment' });
  const active = h('input', {
    type: 'checkbox',
    checked: s.active === 'yes' || s.active === '1',
    testid: 'schedule-active',
  });
  const submit = button('Save', null, { kind: 'primary', type: 'submit', testid: 'schedule-submit' });
  const form = h(
    'form',
    { class: 'form' },
    field('Workflow', workflow),
    params,
    when.el,
    h('div', { class: 'inline-form' }, field('Node', node), field('If an instance fails', onfailure)),
    h('div', { class: 'inline-form' }, field('Remote user', user), field('Remote host', host)),
    field('Comment', comment),
    field('Active', active),
    errors.el,
    h(
      'div',
      { class: 'form-actions' },
      button('Cancel', () => dlg.close()),
      submit,
    ),
  );
  const dlg = openDialog({
    title: schedule ? `Schedule ${schedule.id}` : 'New schedule',
    body: form,
    testid: 'schedule-dialog',
  });

  async function loadParameters() {
    replace(params);
    if (!workflow.value) return;
    try {
      const root = await cluster.api(buildCommand('workflow', { action: 'get', id: workflow.value }));
      const names = childElements(
        child(child(child(root, 'workflow'), 'workflow'), 'parameters'),
        'parameter',
      ).map((p) => p.getAttribute('name'));
      replace(
        params,
        names.map((n) =>
          field(
            `Parameter ${n}`,
            h('input', {
              type: 'text',
              dataset: { parameter: n },
              value: s.parameters[n] ?? '',
              testid: `schedule-param-${n}`,
            }),
          ),
        ),
      );
    } catch (e) {
      errors.show(e);
    }
  }
  workflow.addEventListener('change', loadParameters);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errors.clear();
    const value = when.value();
    try {
      parseSchedule(value);
    } catch (e) {
      errors.show(e.message);
      return;
    }
    const parameters = Array.from(params.querySelectorAll('input[data-parameter]')).map((i) => [
      i.dataset.parameter,
      i.value,
    ]);
    submit.disabled = true;
    try {
      await cluster.api(
        buildCommand(
          'workflow_schedule',
          {
            action: schedule ? 'edit' : 'create',
            id: schedule ? schedule.id : undefined,
            workflow_id: workflow.value,
            schedule: value,
            onfailure: onfailure.value,
            user: user.value.trim(),
            host: host.value.trim(),
            node: node.value,
            active: active.checked ? 'yes' : 'no',
            comment: comment.value,
          },
          parameters,
          ['user', 'host', 'comment'],
        ),
      );
      toast('Schedule saved', 'success');
      dlg.close();
    } catch (e) {
      errors.show(e);
    } finally {
      submit.disabled = false;
    }
  });

  cluster
    .api(buildCommand('workflows', { action: 'list' }))
    .then((root) => {
      const list = childElements(root, 'workflow')
        .map(attrsOf)
        .sort((a, b) => a.name.localeCompare(b.name));
      replace(
        workflow,
        options(
          [
            { value: '', label: 'Choose a workflow' },
            ...list.map((w) => ({ value: w.id, label: w.name, group: w.group || 'No group' })),
          ],
          s.workflow_id,
        ),
      );
      if (s.workflow_id) loadParameters();
    })
    .catch((e) => errors.show(e));
  return dlg;
}
