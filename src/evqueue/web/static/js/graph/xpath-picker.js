/**
 * The XPath picker: a dialog listing what an expression can read from where it is written
 * (xpath-sources.js). Picking a source writes its expression; for a task output a path inside
 * it can follow (`evqGetParentJob(0)/evqGetOutput('t')/items/item`). The expression is checked
 * by the engine as it is typed (`<xpath action="parse"/>`, env.checkXPath) before it is used.
 */

import { button, h, openDialog, replace } from '../ui.js';
import { xpathSources } from './xpath-sources.js';

/**
 * Open the picker. o: {el, attr, initial, env: {checkXPath}, onPick(expression)}.
 */
export function openXPathPicker({ el, attr = '', initial = '', env, onPick }) {
  const sources = xpathSources(el, attr);
  let base = null;
  const expression = h('input', { type: 'text', class: 'mono', value: initial, spellcheck: false, testid: 'xpath-expression', 'aria-label': 'Expression' });
  const path = h('input', { type: 'text', class: 'mono', placeholder: 'items/item', spellcheck: false, testid: 'xpath-path', 'aria-label': 'Path inside the output', disabled: true });
  const status = h('p', { class: 'note', role: 'status', testid: 'xpath-check' });
  let timer = null;
  let asked = 0;
  const check = () => {
    clearTimeout(timer);
    const text = expression.value.trim();
    if (!text) return replace(status, '');
    replace(status, 'checking…');
    timer = setTimeout(async () => {
      asked += 1;
      const mine = asked;
      const problem = await env.checkXPath(text);
      if (mine !== asked) return; // a newer expression is being checked
      status.className = problem ? 'note error' : 'note ok';
      replace(status, problem ? `✗ ${problem}` : '✓ valid expression');
    }, 250);
  };
  const compose = () => {
    if (!base) return;
    const inside = path.value.trim().replace(/^\/+/, '');
    expression.value = inside && base.output ? `${base.expression}/${inside}` : base.expression;
    check();
  };
  const groups = new Map();
  for (const s of sources) groups.set(s.group, [...(groups.get(s.group) || []), s]);
  const list = h(
    'div',
    { class: 'xpath-sources', testid: 'xpath-sources' },
    sources.length ? null : h('p', { class: 'note' }, 'Nothing to read from here: no parameter and no parent job.'),
    Array.from(groups, ([group, items]) =>
      h(
        'div',
        {},
        h('h4', {}, group),
        items.map((s) =>
          button(
            s.label,
            () => {
              base = s;
              path.disabled = !s.output;
              if (!s.output) path.value = '';
              for (const b of list.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.expr === s.expression));
              compose();
            },
            { kind: 'small', testid: 'xpath-source', title: s.expression },
          ),
        ),
      ),
    ),
  );
  for (const b of list.querySelectorAll('button')) b.dataset.expr = b.title;
  path.addEventListener('input', compose);
  expression.addEventListener('input', check);
  const dlg = openDialog({
    title: 'XPath picker',
    testid: 'xpath-picker',
    size: 'wide',
    body: h(
      'div',
      {},
      list,
      h('label', { class: 'field' }, 'Path inside the output (optional)', path),
      h('label', { class: 'field' }, 'Expression', expression),
      status,
    ),
    actions: [
      button(
        'Use this expression',
        () => {
          onPick(expression.value.trim());
          dlg.close();
        },
        { kind: 'primary', testid: 'xpath-use' },
      ),
      button('Cancel', () => dlg.close(), { testid: 'xpath-cancel' }),
    ],
    onClose: () => clearTimeout(timer),
  });
  check();
  return dlg;
}
