/**
 * Login page: user and password. The password is hashed before anything else sees it (the
 * session keeps only hex(SHA1(password))); a refusal is shown in place and nothing is stored.
 */

import { errorBox, field } from '../forms.js';
import { button, h } from '../ui.js';

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const user = h('input', {
    type: 'text',
    name: 'user',
    autocomplete: 'username',
    required: true,
    testid: 'login-user',
    id: 'login-user',
    autofocus: true,
    placeholder: 'User',
  });
  const password = h('input', {
    type: 'password',
    name: 'password',
    autocomplete: 'current-password',
    testid: 'login-password',
    id: 'login-password',
    placeholder: 'Password',
  });
  const errors = errorBox('login-error');
  const submit = button('Log in', null, { kind: 'primary', type: 'submit', testid: 'login-submit' });
  const form = h(
    'form',
    { class: 'form', testid: 'login-form' },
    field('User', user),
    field('Password', password),
    errors.el,
    submit,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errors.clear();
    submit.disabled = true;
    try {
      await ctx.app.login(user.value.trim(), password.value);
    } catch (e) {
      password.value = '';
      errors.show(e.name === 'AuthError' ? 'Authentication failed: wrong user or password.' : e);
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  ctx.el.append(
    h(
      'div',
      { class: 'login', testid: 'login-page' },
      h('h1', {}, 'evQueue'),
      h('p', { class: 'note' }, `Engine at ${window.location.host}`),
      form,
    ),
  );
  user.focus();
}
