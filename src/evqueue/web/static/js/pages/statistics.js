/**
 * Statistics: instances launched per hour/day/month (stacked by workflow, failures beside),
 * totals and failure rate per workflow, and each node's engine counters.
 *
 * Data, all pushed:
 * - INSTANCE_TERMINATED running `<instances action="list" groupby=… filter_launched_from=…
 *   limit="10000"/>` twice ('shared'): all instances, and failed ones (filter_error="yes");
 * - INSTANCE_STARTED/INSTANCE_TERMINATED running `<statistics action="query" type="global"/>`
 *   on 'each' node (counters change with instances; no polling).
 */

import { PALETTE, stackedBars } from '../chart.js';
import { options } from '../forms.js';
import { toEngineTime } from '../format.js';
import { busy, button, h, replace, table, toast } from '../ui.js';
import { attrsOf, buildCommand, child, childElements } from '../wire.js';

const RANGES = {
  '48h': { label: 'Last 48 hours (per hour)', groupby: 'hour', count: 48, unit: 'hour' },
  '14d': { label: 'Last 14 days', groupby: 'day', count: 14, unit: 'day' },
  '30d': { label: 'Last 30 days', groupby: 'day', count: 30, unit: 'day' },
  '90d': { label: 'Last 90 days', groupby: 'day', count: 90, unit: 'day' },
  '12m': { label: 'Last 12 months', groupby: 'month', count: 12, unit: 'month' },
};
const TOP = 8;
const two = (n) => String(n).padStart(2, '0');

/** Bucket keys (oldest first) and the first instant of the range. */
export function buckets(range, now = new Date()) {
  const base = new Date(now);
  base.setMinutes(0, 0, 0);
  if (range.unit !== 'hour') base.setHours(0);
  if (range.unit === 'month') base.setDate(1);
  const dates = [];
  for (let i = range.count - 1; i >= 0; i -= 1) {
    const d = new Date(base);
    if (range.unit === 'hour') d.setHours(d.getHours() - i);
    else if (range.unit === 'day') d.setDate(d.getDate() - i);
    else d.setMonth(d.getMonth() - i);
    dates.push(d);
  }
  return {
    keys: dates.map((d) =>
      bucketKey(range.unit, d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours()),
    ),
    from: dates[0],
  };
}

/** The key of a bucket: '2024-03-05', '2024-03-05 14h', '2024-03'. */
export function bucketKey(unit, year, month, day, hour) {
  if (unit === 'month') return `${year}-${two(month)}`;
  if (unit === 'day') return `${year}-${two(month)}-${two(day)}`;
  return `${year}-${two(month)}-${two(day)} ${two(hour)}h`;
}

function counts(root, unit) {
  const out = new Map(); // workflow -> Map(bucket -> count)
  for (const r of childElements(root, 'workflow')) {
    const a = attrsOf(r);
    const key = bucketKey(unit, a.year, Number(a.month), Number(a.day), Number(a.hour));
    if (!out.has(a.name)) out.set(a.name, new Map());
    const m = out.get(a.name);
    m.set(key, (m.get(key) || 0) + Number(a.count || 0));
  }
  return out;
}

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, scope, session } = ctx;
  let rangeId = RANGES[ctx.query.range] ? ctx.query.range : '30d';
  let all = new Map();
  let failed = new Map();
  const hidden = new Set();
  const globals = new Map(); // node -> attrs
  const chartEl = h('div', { testid: 'stats-chart' });
  const legend = h('div', { class: 'legend' });
  const totalsEl = h('div');
  const globalEl = h('div');
  const rangeSel = h(
    'select',
    { testid: 'stats-range', 'aria-label': 'Period' },
    options(
      Object.entries(RANGES).map(([value, r]) => ({ value, label: r.label })),
      rangeId,
    ),
  );
  let subs = null; // the two history subscriptions of the chosen period
  ctx.el.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Statistics'), rangeSel),
    h('section', { class: 'panel' }, h('h2', {}, 'Instances launched'), legend, chartEl),
    h('section', { class: 'panel' }, h('h2', {}, 'Per workflow'), totalsEl),
    h(
      'section',
      { class: 'panel' },
      h('div', { class: 'page-head' }, h('h2', {}, 'Engine counters')),
      globalEl,
    ),
  );

  function drawChart() {
    const range = RANGES[rangeId];
    const short = (k) => (range.unit === 'month' ? k : k.slice(5)); // drop the year on the axis
    const { keys } = buckets(range);
    const names = [...all.keys()].sort((a, b) => sum(all.get(b)) - sum(all.get(a)));
    const top = names.slice(0, TOP);
    const rest = names.slice(TOP);
    const series = top.map((n, i) => ({
      label: n,
      color: PALETTE[i],
      values: keys.map((k) => all.get(n).get(k) || 0),
    }));
    if (rest.length)
      series.push({
        label: `${rest.length} others`,
        color: '#9aa3b2',
        values: keys.map((k) => rest.reduce((a, n) => a + (all.get(n).get(k) || 0), 0)),
      });
    const visible = series.filter((s) => !hidden.has(s.label));
    const failures = keys.map((k) => [...failed.values()].reduce((a, m) => a + (m.get(k) || 0), 0));
    replace(
      legend,
      series.map((s) => {
        const cb = h('input', { type: 'checkbox', checked: !hidden.has(s.label), testid: 'stats-series' });
        cb.addEventListener('change', () => {
          if (cb.checked) hidden.delete(s.label);
          else hidden.add(s.label);
          drawChart();
        });
        return h('label', {}, cb, h('span', { class: 'swatch', style: { background: s.color } }), s.label);
      }),
    );
    const total = series.reduce((a, s) => a + sum(s.values), 0);
    replace(
      chartEl,
      stackedBars({
        labels: keys,
        series: visible,
        short,
        title: `${total} instances launched, ${sum(failures)} failed`,
      }),
      h('h3', {}, 'Failed instances'),
      stackedBars({
        labels: keys,
        series: [{ label: 'failed', color: '#e15759', values: failures }],
        height: 140,
        short,
        title: `${sum(failures)} failed instances`,
      }),
    );
    drawTotals();
  }

  function drawTotals() {
    const rows = [...all.entries()]
      .map(([name, m]) => {
        const n = sum(m);
        const f = failed.has(name) ? sum(failed.get(name)) : 0;
        return { name, n, f, rate: n ? Math.round((1000 * f) / n) / 10 : 0 };
      })
      .sort((a, b) => b.n - a.n);
    replace(
      totalsEl,
      table({
        testid: 'stats-table',
        rows,
        empty: 'No instance in this period.',
        columns: [
          {
            label: 'Workflow',
            render: (r) => h('a', { href: `#/instances?workflow=${encodeURIComponent(r.name)}` }, r.name),
          },
          { label: 'Instances', class: 'num', render: (r) => String(r.n) },
          { label: 'Failed', class: 'num', render: (r) => String(r.f) },
          { label: 'Failure rate', class: 'num', render: (r) => `${r.rate} %` },
        ],
      }),
    );
  }

  function drawGlobals() {
    const nodes = [...globals.keys()];
    const names = [...new Set(nodes.flatMap((n) => Object.keys(globals.get(n))))]
      .filter((k) => !['node', 'status'].includes(k))
      .sort();
    replace(
      globalEl,
      table({
        testid: 'stats-global',
        rows: names,
        empty: 'Loading…',
        columns: [
          { label: 'Counter', render: (k) => k.replace(/_/g, ' ') },
          ...nodes.map((n) => ({ label: n, class: 'num', render: (k) => globals.get(n)[k] ?? '' })),
        ],
      }),
      session.isAdmin
        ? h(
            'div',
            { class: 'toolbar' },
            nodes.map((n) =>
              button(
                `Reset ${n}`,
                () =>
                  busy(
                    null,
                    async () => {
                      await cluster.api(buildCommand('statistics', { action: 'reset', type: 'global' }), {
                        node: n,
                      });
                      toast(`Counters of ${n} reset`, 'success');
                    },
                    'Reset failed',
                  ),
                { kind: 'small', testid: 'stats-reset' },
              ),
            ),
          )
        : null,
    );
  }

  function subscribe() {
    if (subs) subs.dispose();
    subs = scope.child();
    const range = RANGES[rangeId];
    const from = toEngineTime(buckets(range).from);
    const base = { action: 'list', groupby: range.groupby, filter_launched_from: from, limit: 10000 };
    subs.own(
      cluster.subscribe({
        types: ['INSTANCE_TERMINATED'],
        command: buildCommand('instances', base),
        onData: (root) => {
          all = counts(root, range.unit);
          drawChart();
        },
      }),
    );
    subs.own(
      cluster.subscribe({
        types: ['INSTANCE_TERMINATED'],
        command: buildCommand('instances', { ...base, filter_error: 'yes' }),
        onData: (root) => {
          failed = counts(root, range.unit);
          drawChart();
        },
      }),
    );
  }

  rangeSel.addEventListener('change', () => {
    rangeId = rangeSel.value;
    ctx.setQuery({ range: rangeId });
    subscribe();
  });
  scope.own(
    cluster.subscribe({
      types: ['INSTANCE_STARTED', 'INSTANCE_TERMINATED'],
      scope: 'each',
      command: buildCommand('statistics', { action: 'query', type: 'global' }),
      onData: (root, node) => {
        globals.set(node, attrsOf(child(root, 'statistics') || root));
        drawGlobals();
      },
    }),
  );
  subscribe();
  drawGlobals();
}

function sum(values) {
  let s = 0;
  for (const v of values instanceof Map ? values.values() : values) s += v;
  return s;
}
