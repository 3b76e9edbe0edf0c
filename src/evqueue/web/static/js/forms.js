/**
 * Form controls and the generic "edit an object" dialog used by the CRUD pages.
 *
 * Rules: every control has a visible <label>; Enter submits (real <form> with a submit button);
 * an engine error stays inside the dialog, next to the fields, instead of a toast that vanishes.
 */

import { button, describeError, h, openDialog, replace } from './ui.js';

/** <select> options from [{value, label, group?}] or plain strings; optgroups by `group`. */
export function options(list, selected) {
  const out = [];
  const groups = new Map();
  for (const item of list) {
    const o = typeof item === 'object' ? item : { value: item, label: item };
    const el = h(
      'option',
      { value: o.value, selected: String(o.value) === String(selected) },
      o.label ?? o.value,
    );
    if (o.group) {
      if (!groups.has(o.group)) {
        const g = h('optgroup', { label: o.group });
        groups.set(o.group, g);
        out.push(g);
      }
      groups.get(o.group).append(el);
    } else {
      out.push(el);
    }
  }
  return out;
}

/** Build one control from a field description. */
export function control(f) {
  const common = {
    name: f.name,
    id: `f-${f.name}-${Math.random().toString(36).slice(2, 8)}`,
    testid: f.testid,
    required: f.required,
    disabled: f.disabled,
    placeholder: f.placeholder,
    autofocus: f.autofocus,
  };
  switch (f.type) {
    case 'select':
      return h('select', common, options(f.options || [], f.value));
    case 'checkbox':
      return h('input', { ...common, type: 'checkbox', checked: Boolean(f.value), required: false });
    case 'textarea':
      return h('textarea', { ...common, rows: f.rows || 6, value: f.value ?? '', spellcheck: false });
    default:
      return h('input', {
        ...common,
        type: f.type || 'text',
        value: f.value ?? '',
        pattern: f.pattern,
        min: f.min,
        max: f.max,
        autocomplete: f.autocomplete || 'off',
      });
  }
}

/** A labelled row around a control. */
export function field(label, ctrl, help = '') {
  const row = h('div', { class: `field ${ctrl.type === 'checkbox' ? 'check' : ''}`.trim() });
  const lab = h('label', { htmlFor: ctrl.id || '' }, label);
  if (ctrl.type === 'checkbox') row.append(ctrl, lab);
  else row.append(lab, ctrl);
  if (help) row.append(h('small', { class: 'help' }, help));
  return row;
}

/** Values of the named controls of a form: checkboxes give booleans. */
export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === 'checkbox' ? el.checked : el.value;
  }
  return out;
}

/** The error box shown inside forms (data-testid `${testid}`). */
export function errorBox(testid = 'form-error') {
  const el = h('div', { class: 'error-box', role: 'alert', testid, hidden: true });
  return {
    el,
    show(e) {
      el.hidden = false;
      replace(el, typeof e === 'string' ? e : describeError(e));
    },
    clear() {
      el.hidden = true;
      replace(el);
    },
  };
}

/**
 * A dialog holding a form. fields: see control(). extra: more nodes placed after the fields.
 * onSubmit(values, form) may return a promise; the dialog closes when it resolves and shows the
 * error in place when it rejects.
 */
export function formDialog({
  title,
  testid,
  fields,
  extra = null,
  submitLabel = 'Save',
  onSubmit,
  size = '',
}) {
  const errors = errorBox(`${testid || 'form'}-error`);
  const controls = fields.map((f) => [f, control(f)]);
  const submit = button(submitLabel, null, {
    kind: 'primary',
    type: 'submit',
    testid: `${testid || 'form'}-submit`,
  });
  const form = h(
    'form',
    { class: 'form', novalidate: false },
    controls.map(([f, c]) => field(f.label, c, f.help)),
    extra,
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
      await onSubmit(formValues(form), form);
      dlg.close();
    } catch (e) {
      errors.show(e);
    } finally {
      submit.disabled = false;
    }
  });
  const dlg = openDialog({ title, body: form, testid, size });
  return { ...dlg, form, errors };
}
