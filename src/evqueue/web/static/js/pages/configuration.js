/**
 * Running configuration of every node (`<status action="query" type="configuration"/>`), side
 * by side, with the entries that differ between the compared nodes highlighted and an
 * "only differences" view. Entries are matched by name, not by position (evQueue's page
 * compared by index, so one extra key shifted every line). A node that does not answer is
 * named with its error instead of being silently left out. No event exists for configuration:
 * the page loads once and on "Reload".
 */

import { busy, button, h, replace, table } from '../ui.js';
import { buildCommand, child, childElements } from '../wire.js';

/** Names whose value is not the same on every one of the given nodes. */
export function differingKeys(configs, nodes) {
  const names = new Set(nodes.flatMap((n) => [...(configs.get(n) || new Map()).keys()]));
  return new Set(
    [...names].filter(
      (k) => new Set(nodes.map((n) => (configs.get(n) || new Map()).get(k) ?? '\u0000missing')).size > 1,
    ),
  );
}

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster } = ctx;
  const configs = new Map(); // node -> Map(name -> value)
  const errors = new Map();
  const compared = new Set();
  const filter = h('input', {
    type: 'search',
    class: 'filter-box',
    placeholder: 'Filter keys  ( / )',
    'aria-label': 'Filter configuration keys',
    testid: 'config-filter',
    dataset: { role: 'filter' },
  });
  const diffOnly = h('input', {
    type: 'checkbox',
    id: 'config-diff-only',
    testid: 'config-diff-only',
    checked: ctx.query.diff === '1',
  });
  const nodesBox = h('div', { class: 'toolbar', testid: 'config-nodes' });
  const listEl = h('div');
  const reload = button('Reload', () => busy(reload, load), { testid: 'config-reload' });
  ctx.el.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Running configuration'),
      filter,
      h('label', { htmlFor: 'config-diff-only' }, diffOnly, ' only differences'),
      reload,
    ),
    nodesBox,
    listEl,
  );

  async function load() {
    const results = await cluster.apiAll(buildCommand('status', { action: 'query', type: 'configuration' }));
    for (const r of results) {
      if (r.error) {
        errors.set(r.node, r.error);
        continue;
      }
      errors.delete(r.node);
      const box = child(r.root, 'configuration') || r.root;
      if (!configs.has(r.node)) compared.add(r.node); // a node seen for the first time is compared
      configs.set(
        r.node,
        new Map(
          childElements(box, 'entry').map((e) => [e.getAttribute('name'), e.getAttribute('value') ?? '']),
        ),
      );
    }
    render();
  }

  function render() {
    const nodes = [...configs.keys()];
    replace(
      nodesBox,
      nodes.length > 2
        ? [
            'Compare: ',
            nodes.map((n) => {
              const cb = h('input', {
                type: 'checkbox',
                checked: compared.has(n),
                testid: 'config-node',
                dataset: { node: n },
              });
              cb.addEventListener('change', () => {
                if (cb.checked) compared.add(n);
                else compared.delete(n);
                render();
              });
              return h('label', {}, cb, ` ${n} `);
            }),
          ]
        : null,
      [...errors].map(([n, e]) =>
        h('span', { class: 'error-text', testid: 'config-node-error' }, `${n}: ${e.message}`),
      ),
    );
    const shownNodes = nodes.filter((n) => compared.has(n));
    const differ = differingKeys(configs, shownNodes);
    const text = filter.value.trim().toLowerCase();
    const names = [...new Set(shownNodes.flatMap((n) => [...configs.get(n).keys()]))]
      .sort()
      .filter((k) => (!diffOnly.checked || differ.has(k)) && (!text || k.toLowerCase().includes(text)));
    replace(
      listEl,
      h(
        'p',
        { class: 'note', testid: 'config-summary' },
        shownNodes.length > 1
          ? `${differ.size} entr${differ.size === 1 ? 'y differs' : 'ies differ'} between ${shownNodes.join(' and ')}.`
          : '',
      ),
      table({
        testid: 'config-table',
        rowTestid: 'config-row',
        rows: names,
        empty: 'No entry.',
        rowData: (k) => ({ key: k, differs: differ.has(k) ? 'yes' : 'no' }),
        rowClass: (k) => (differ.has(k) ? 'differs' : ''),
        columns: [
          { label: 'Key', render: (k) => h('code', {}, k) },
          ...shownNodes.map((n) => ({
            label: n,
            class: 'value',
            render: (k) =>
              configs.get(n).has(k) ? configs.get(n).get(k) : h('em', { class: 'note' }, 'missing'),
          })),
        ],
      }),
    );
  }

  filter.addEventListener('input', render);
  diffOnly.addEventListener('change', () => {
    ctx.setQuery({ diff: diffOnly.checked ? '1' : undefined });
    render();
  });
  load().catch((e) => replace(listEl, h('p', { class: 'note error' }, e.message)));
}
