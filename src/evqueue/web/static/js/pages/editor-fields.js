/**
 * Form fields bound to attributes and mixed content of a workflow definition element, used by
 * the structured editor. Every edit writes the DOM at once and calls env.onChange(structural):
 * structural=true redraws the tree (add, remove, move, type change), plain edits only
 * re-serialize, so the field being typed in keeps focus.
 *
 * XPath fields are checked by the engine (`<xpath action="parse" expression=…/>`, reply
 * attribute `parse-error`) as they are typed; an engine without that command is ignored.
 * XPath fields and value fields have an "XPath…" button opening the XPath picker (graph/xpath-picker.js)
 * on what is reachable from their element.
 */

import { field, options } from '../forms.js';
import { openXPathPicker } from '../graph/xpath-picker.js';
import { button, h, replace } from '../ui.js';
import { XmlSyntaxError } from '../wire.js';
import { innerXml, setAttr, setInnerXml } from './workflow-doc.js';

const pickerButton = (open) =>
  button('XPath…', open, { kind: 'small', testid: 'xpath-pick', title: 'XPath picker: what can be read from here' });

/** Put the picker button on the line of the control it fills. */
function withPicker(ctrl, open) {
  const line = h('div', { class: 'with-picker' });
  ctrl.replaceWith(line);
  line.append(ctrl, pickerButton(open));
}

let counter = 0;
const uid = (p) => {
  counter += 1;
  return `${p}-${counter}`;
};

/**
 * Check expressions with the engine as they are typed: live(list) asks after a short pause
 * and calls show(problem) for the first expression refused ('' when all parse); an answer
 * to an older list is dropped.
 */
function liveCheck(env, show) {
  let timer = null;
  let asked = 0;
  return (expressions) => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      asked += 1;
      const mine = asked;
      let problem = '';
      for (const x of expressions) {
        const error = x ? await env.checkXPath(x) : '';
        if (error) {
          problem = expressions.length > 1 ? `${x}: ${error}` : error;
          break;
        }
      }
      if (mine === asked) show(problem);
    }, 300);
  };
}

/**
 * A field bound to attribute `spec.name` of el.
 * spec: {name, label, type: text|select|check|xpath|number, options, help, placeholder, onValue}
 */
export function attrField(el, spec, env) {
  const id = uid('a');
  const value = el.getAttribute(spec.name) ?? '';
  const testid = `attr-${spec.name}`;
  let ctrl;
  if (spec.type === 'select') {
    const opts = spec.options.includes(value) || value === '' ? spec.options : [...spec.options, value];
    ctrl = h(
      'select',
      { id, testid },
      options(
        opts.map((o) => (typeof o === 'object' ? o : { value: o, label: o || '—' })),
        value,
      ),
    );
  } else if (spec.type === 'check') {
    ctrl = h('input', {
      type: 'checkbox',
      id,
      testid,
      checked: value === 'yes' || value === 'true' || value === '1',
    });
  } else {
    ctrl = h('input', {
      type: spec.type === 'number' ? 'number' : 'text',
      id,
      testid,
      value,
      placeholder: spec.placeholder,
      class: spec.type === 'xpath' ? 'mono' : undefined,
      spellcheck: false,
    });
  }
  const err = h('div', { class: 'xpath-error', role: 'status' });
  const write = () => {
    const v =
      spec.type === 'check' ? (ctrl.checked ? 'yes' : (spec.uncheckedValue ?? '')) : ctrl.value.trim();
    setAttr(el, spec.name, v);
    if (spec.onValue) spec.onValue(v);
    env.onChange(Boolean(spec.structural));
  };
  ctrl.addEventListener(spec.type === 'check' || spec.type === 'select' ? 'change' : 'input', write);
  const row = field(spec.label, ctrl, spec.help);
  if (spec.type === 'xpath') {
    const check = liveCheck(env, (problem) => replace(err, problem));
    ctrl.addEventListener('input', () => check([ctrl.value.trim()]));
    withPicker(ctrl, () =>
      openXPathPicker({
        el,
        attr: spec.name,
        initial: ctrl.value,
        env,
        onPick: (expression) => {
          ctrl.value = expression;
          ctrl.dispatchEvent(new Event('input'));
        },
      }),
    );
  }
  row.append(err);
  return row;
}

/**
 * A field editing the mixed content of el (input, stdin, script) as XML text, e.g.
 * `--db=<value select="evqGetWorkflowParameter('db')"/>`. Bad markup is shown, not written.
 */
export function contentField(el, label, env, { multiline = false, parameters = [] } = {}) {
  const id = uid('c');
  const props = {
    id,
    value: innerXml(el),
    spellcheck: false,
    class: 'mono',
    testid: `content-${el.nodeName}`,
  };
  const ctrl = multiline ? h('textarea', { ...props, rows: 6 }) : h('input', { ...props, type: 'text' });
  const err = h('div', { class: 'xpath-error', role: 'status', testid: 'content-error' });
  const check = liveCheck(env, (problem) => replace(err, problem));
  ctrl.addEventListener('input', () => {
    try {
      setInnerXml(el, ctrl.value);
      replace(err);
      env.onChange(false);
      // the select of every <value>/<copy> part is checked by the engine as it is typed
      check(Array.from(el.querySelectorAll('value, copy'), (v) => (v.getAttribute('select') || '').trim()));
    } catch (e) {
      replace(
        err,
        e instanceof XmlSyntaxError ? 'Invalid markup: use &lt; for "<" and &amp; for "&"' : e.message,
      );
    }
  });
  const row = field(label, ctrl);
  withPicker(ctrl, () =>
    openXPathPicker({
      el,
      env,
      onPick: (expression) => {
        if (!expression) return;
        const quoted = expression.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
        const snippet = `<value select="${quoted}"/>`;
        const at = ctrl.selectionStart ?? ctrl.value.length;
        ctrl.value = ctrl.value.slice(0, at) + snippet + ctrl.value.slice(ctrl.selectionEnd ?? at);
        ctrl.dispatchEvent(new Event('input'));
      },
    }),
  );
  if (parameters.length) {
    const pick = h(
      'select',
      { 'aria-label': 'Insert a workflow parameter', testid: 'insert-parameter' },
      options([{ value: '', label: 'Insert parameter…' }, ...parameters]),
    );
    pick.addEventListener('change', () => {
      if (!pick.value) return;
      const snippet = `<value select="evqGetWorkflowParameter('${pick.value}')"/>`;
      const at = ctrl.selectionStart ?? ctrl.value.length;
      ctrl.value = ctrl.value.slice(0, at) + snippet + ctrl.value.slice(ctrl.selectionEnd ?? at);
      pick.value = '';
      ctrl.dispatchEvent(new Event('input'));
      ctrl.focus();
    });
    row.append(pick);
  }
  row.append(err);
  return row;
}
