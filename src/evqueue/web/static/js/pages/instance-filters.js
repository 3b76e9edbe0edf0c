/**
 * Filters of the instance history: the URL query <-> `instances list` attributes, the sentence
 * that reads them back, and the filter form.
 *
 * URL keys (short, so links stay readable): id, workflow, status, errors, node, tag, from,
 * until, ended_from, ended_until, schedule, p.<parameter>, ca.<custom attribute>, limit, offset.
 * Only filters that are set are sent (evQueue's UI sent empty ones, frontend.md §6.10).
 */

import { field, options } from '../forms.js';
import { fromInputDateTime, toInputDateTime } from '../format.js';
import { button, h, replace } from '../ui.js';
import { buildCommand, child, childElements } from '../wire.js';

export const FILTER_ATTRIBUTES = Object.freeze({
  id: 'filter_id',
  workflow: 'filter_workflow',
  status: 'filter_status',
  errors: 'filter_error',
  node: 'filter_node',
  tag: 'filter_tag_id',
  from: 'filter_launched_from',
  until: 'filter_launched_until',
  ended_from: 'filter_ended_from',
  ended_until: 'filter_ended_until',
  schedule: 'filter_schedule_id',
});

export const PAGE_SIZES = [30, 50, 100, 200];

/** The filter keys of a query (paging keys and the dialog overlay left out). */
export function filtersOf(query) {
  const out = {};
  for (const [k, v] of Object.entries(query)) {
    if (v === '' || v === undefined) continue;
    if (k in FILTER_ATTRIBUTES || k.startsWith('p.') || k.startsWith('ca.')) out[k] = v;
  }
  return out;
}

/** The `instances list` command for a query. */
export function listCommand(query) {
  const attrs = { action: 'list' };
  const params = [];
  for (const [k, v] of Object.entries(filtersOf(query))) {
    if (k in FILTER_ATTRIBUTES) attrs[FILTER_ATTRIBUTES[k]] = v;
    else if (k.startsWith('p.')) params.push([k.slice(2), v]);
    else attrs[`customattribute_${k.slice(3)}`] = v;
  }
  attrs.limit = Number(query.limit) || PAGE_SIZES[0];
  attrs.offset = Number(query.offset) || 0;
  // Parameters as <parameter> children: names may hold characters an attribute name cannot.
  return buildCommand('instances', attrs, params);
}

/** A sentence for the active filters, e.g. "failed instances of hello on node1, …". */
export function describeFilters(query, tagLabel = (id) => `#${id}`) {
  const f = filtersOf(query);
  const what = [];
  if (f.errors === 'yes') what.push('failed');
  if (f.status) what.push(f.status.toLowerCase());
  let s = `${what.length ? `${what.join(' ')} ` : ''}instances${f.workflow ? ` of ${f.workflow}` : ''}`;
  if (f.id) s = `instance ${f.id}`;
  const parts = [];
  if (f.from || f.until)
    parts.push(
      `launched ${f.from ? `after ${f.from}` : ''}${f.from && f.until ? ' and ' : ''}${f.until ? `before ${f.until}` : ''}`,
    );
  if (f.ended_from || f.ended_until)
    parts.push(
      `ended ${f.ended_from ? `after ${f.ended_from}` : ''}${f.ended_from && f.ended_until ? ' and ' : ''}${f.ended_until ? `before ${f.ended_until}` : ''}`,
    );
  const params = Object.entries(f)
    .filter(([k]) => k.startsWith('p.') || k.startsWith('ca.'))
    .map(([k, v]) => `${k.replace(/^(p|ca)\./, '')} = ${v}`);
  if (params.length) parts.push(`with ${params.join(', ')}`);
  if (f.node) parts.push(`on node ${f.node}`);
  if (f.tag) parts.push(`tagged ${tagLabel(f.tag)}`);
  if (f.schedule) parts.push(`from schedule ${f.schedule}`);
  if (s === 'instances' && parts.length === 0) return 'Showing all instances';
  return `Showing ${[s, ...parts].join(', ')}`;
}

/**
 * The filter form. lists: {workflows: [{id, name, group}], tags: [{id, label}], nodes: [name]}.
 * onApply(query) receives the new filter keys (paging reset by the caller).
 */
export function filterForm(ctx, query, lists, onApply) {
  const f = filtersOf(query);
  const input = (name, value, props = {}) =>
    h('input', { name, value: value || '', testid: `filter-${name.replace(/[._]/g, '-')}`, ...props });
  const workflow = h(
    'select',
    { name: 'workflow', testid: 'filter-workflow' },
    options(
      [
        { value: '', label: 'Any workflow' },
        ...lists.workflows.map((w) => ({ value: w.name, label: w.name, group: w.group || 'No group' })),
      ],
      f.workflow,
    ),
  );
  const paramsBox = h('div', { class: 'inline-form' });
  const fields = h(
    'div',
    { class: 'inline-form' },
    field('Id', input('id', f.id, { type: 'number', min: 1, style: { width: '7rem' } })),
    field('Workflow', workflow),
    field(
      'Status',
      h(
        'select',
        { name: 'status', testid: 'filter-status' },
        options([{ value: '', label: 'Any' }, 'TERMINATED', 'EXECUTING', 'ABORTED'], f.status),
      ),
    ),
    field(
      'Errors only',
      h('input', { type: 'checkbox', name: 'errors', checked: f.errors === 'yes', testid: 'filter-errors' }),
    ),
    field(
      'Node',
      h(
        'select',
        { name: 'node', testid: 'filter-node' },
        options([{ value: '', label: 'Any node' }, ...lists.nodes], f.node),
      ),
    ),
    lists.tags.length
      ? field(
          'Tag',
          h(
            'select',
            { name: 'tag', testid: 'filter-tag' },
            options(
              [{ value: '', label: 'Any tag' }, ...lists.tags.map((t) => ({ value: t.id, label: t.label }))],
              f.tag,
            ),
          ),
        )
      : null,
    field('Launched after', input('from', toInputDateTime(f.from), { type: 'datetime-local' })),
    field('Launched before', input('until', toInputDateTime(f.until), { type: 'datetime-local' })),
    field('Ended after', input('ended_from', toInputDateTime(f.ended_from), { type: 'datetime-local' })),
    field('Ended before', input('ended_until', toInputDateTime(f.ended_until), { type: 'datetime-local' })),
  );

  // Parameters and custom attributes of the chosen workflow become extra filters.
  const loadParams = async () => {
    replace(paramsBox);
    const w = lists.workflows.find((x) => x.name === workflow.value);
    if (!w) return;
    try {
      const root = await ctx.cluster.api(buildCommand('workflow', { action: 'get', id: w.id }));
      const def = child(child(root, 'workflow'), 'workflow');
      for (const p of childElements(child(def, 'parameters'), 'parameter')) {
        const n = p.getAttribute('name');
        paramsBox.append(field(`Parameter ${n}`, input(`p.${n}`, f[`p.${n}`])));
      }
      for (const a of childElements(child(def, 'custom-attributes'), 'custom-attribute')) {
        const n = a.getAttribute('name');
        paramsBox.append(field(`Attribute ${n}`, input(`ca.${n}`, f[`ca.${n}`])));
      }
    } catch (e) {
      console.warn('workflow parameters not loaded', e);
    }
  };
  workflow.addEventListener('change', loadParams);
  loadParams();

  const form = h(
    'form',
    { class: 'filters', testid: 'filter-form' },
    fields,
    paramsBox,
    h(
      'div',
      { class: 'toolbar' },
      button('Apply filters', null, { kind: 'primary', type: 'submit', testid: 'filter-apply' }),
      button('Clear', () => onApply({}), { testid: 'filter-clear' }),
    ),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === 'checkbox') {
        if (el.checked) next[el.name] = 'yes';
        continue;
      }
      const v = el.type === 'datetime-local' ? fromInputDateTime(el.value) : el.value.trim();
      if (v) next[el.name] = v;
    }
    onApply(next);
  });
  return form;
}
