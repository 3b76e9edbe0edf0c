/**
 * Users and rights: create, edit (name, profile, password), delete, and per-workflow rights
 * of USER-profile accounts (read, edit, execute, kill).
 *
 * Data: USER_CREATED/MODIFIED/REMOVED running `<users action="list"/>` ('shared'). Rights are
 * read with `user list_rights` and written one workflow at a time with `user grant` (all four
 * flags) or `user revoke` when none is left. Only the typed fields are sent, and the two
 * password fields must match (evQueue's dialog sent both and never compared them, §6.7–6.8).
 */

import { formDialog } from '../forms.js';
import { badge, busy, button, confirmDialog, h, openDialog, replace, table, toast } from '../ui.js';
import { attrsOf, buildCommand, childElements } from '../wire.js';

const FLAGS = [
  ['read', 'Read'],
  ['exec', 'Execute'],
  ['edit', 'Edit'],
  ['kill', 'Kill'],
];

function editUser(cluster, u) {
  formDialog({
    title: u ? `User ${u.name}` : 'New user',
    testid: 'user-dialog',
    fields: [
      {
        name: 'name',
        label: 'Login',
        value: u ? u.name : '',
        required: true,
        pattern: '[A-Za-z0-9_\\-]{1,64}',
        testid: 'user-name',
        autofocus: true,
      },
      {
        name: 'profile',
        label: 'Profile',
        type: 'select',
        value: u ? u.profile : 'USER',
        testid: 'user-profile',
        options: [
          { value: 'USER', label: 'USER: rights per workflow' },
          { value: 'ADMIN', label: 'ADMIN: everything' },
        ],
      },
      {
        name: 'password',
        label: u ? 'New password (leave empty to keep)' : 'Password',
        type: 'password',
        required: !u,
        testid: 'user-password',
        autocomplete: 'new-password',
      },
      {
        name: 'password2',
        label: 'Password again',
        type: 'password',
        required: !u,
        testid: 'user-password2',
        autocomplete: 'new-password',
      },
    ],
    onSubmit: async (v) => {
      if (v.password !== v.password2) throw new Error('The two passwords differ.');
      await cluster.api(
        buildCommand('user', {
          action: u ? 'edit' : 'create',
          id: u ? u.id : undefined,
          name: v.name.trim(),
          profile: v.profile,
          password: v.password || undefined,
        }),
      );
      toast(`User ${v.name} saved`, 'success');
    },
  });
}

async function editRights(cluster, u) {
  const [wfRoot, rightsRoot] = await Promise.all([
    cluster.api(buildCommand('workflows', { action: 'list' })),
    cluster.api(buildCommand('user', { action: 'list_rights', id: u.id })),
  ]);
  const workflows = childElements(wfRoot, 'workflow')
    .map(attrsOf)
    .sort((a, b) => a.name.localeCompare(b.name));
  const rights = new Map(
    childElements(rightsRoot, 'right').map((r) => [r.getAttribute('workflow-id'), attrsOf(r)]),
  );
  const yes = (v) => v === 'yes' || v === '1' || v === 'true';
  const write = async (wid, boxes) => {
    const flags = Object.fromEntries(FLAGS.map(([f]) => [f, boxes[f].checked ? 'yes' : 'no']));
    if (Object.values(flags).every((v) => v === 'no')) {
      await cluster.api(buildCommand('user', { action: 'revoke', id: u.id, workflow_id: wid })).catch((e) => {
        if (e.code !== 'ALREADY_NO_RIGHTS') throw e;
      });
    } else {
      await cluster.api(buildCommand('user', { action: 'grant', id: u.id, workflow_id: wid, ...flags }));
    }
  };
  const body = table({
    testid: 'rights-table',
    rowTestid: 'rights-row',
    rowData: (w) => ({ workflow: w.name }),
    rows: workflows,
    empty: 'No workflow.',
    columns: [
      { label: 'Workflow', render: (w) => w.name },
      { label: 'Group', render: (w) => w.group || '' },
      ...FLAGS.map(([flag, label]) => ({
        label,
        render: (w) => {
          const r = rights.get(w.id) || {};
          const cb = h('input', {
            type: 'checkbox',
            checked: yes(r[flag]),
            testid: `right-${flag}`,
            'aria-label': `${label} ${w.name}`,
            dataset: { flag },
          });
          cb.addEventListener('change', () => {
            const row = cb.closest('tr');
            const boxes = Object.fromEntries(
              Array.from(row.querySelectorAll('input[data-flag]')).map((b) => [b.dataset.flag, b]),
            );
            busy(null, () => write(w.id, boxes), 'Rights not saved');
          });
          return cb;
        },
      })),
    ],
  });
  openDialog({
    title: `Rights of ${u.name}`,
    body: h('div', {}, h('p', { class: 'note' }, 'Each change is saved at once.'), body),
    testid: 'rights-dialog',
    size: 'wide',
  });
}

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, scope, session } = ctx;
  let users = [];
  const listEl = h('div');
  ctx.el.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Users and rights'),
      button('New user', () => editUser(cluster, null), { kind: 'primary', testid: 'user-new' }),
    ),
    listEl,
  );

  const remove = async (u) => {
    if (!(await confirmDialog(`Delete user ${u.name}?`, { confirmLabel: 'Delete user', danger: true })))
      return;
    await cluster.api(buildCommand('user', { action: 'delete', id: u.id }));
    toast(`User ${u.name} deleted`, 'success');
  };

  function render() {
    replace(
      listEl,
      table({
        testid: 'users-table',
        rowTestid: 'user-row',
        rowData: (u) => ({ name: u.name }),
        rows: users,
        empty: 'No user.',
        columns: [
          {
            label: 'Login',
            render: (u) => [h('strong', {}, u.name), u.name === session.user ? ' (you)' : ''],
          },
          { label: 'Profile', render: (u) => badge(u.profile, u.profile === 'ADMIN' ? 'warn' : '') },
          {
            label: '',
            class: 'actions',
            render: (u) => [
              u.profile === 'USER'
                ? button('Rights', () => busy(null, () => editRights(cluster, u), 'Rights not loaded'), {
                    kind: 'small',
                    testid: 'user-rights',
                  })
                : null,
              ' ',
              button('Edit', () => editUser(cluster, u), { kind: 'small', testid: 'user-edit' }),
              ' ',
              button('Delete', () => busy(null, () => remove(u), 'Delete failed'), {
                kind: 'small danger',
                testid: 'user-delete',
                disabled: u.name === session.user,
              }),
            ],
          },
        ],
      }),
    );
  }

  scope.own(
    cluster.subscribe({
      types: ['USER_CREATED', 'USER_MODIFIED', 'USER_REMOVED'],
      command: buildCommand('users', { action: 'list' }),
      onData: (root) => {
        users = childElements(root, 'user')
          .map(attrsOf)
          .sort((a, b) => a.name.localeCompare(b.name));
        render();
      },
    }),
  );
  render();
}
