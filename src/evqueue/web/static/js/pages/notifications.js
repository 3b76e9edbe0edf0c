/**
 * Notifications (what runs when an instance ends) and notification types (the plugins).
 *
 * Data: NOTIFICATION_CREATED/MODIFIED/REMOVED running `<notifications action="list"/>`, and
 * NOTIFICATION_TYPE_CREATED/REMOVED running `<notification_types action="list"/>` ('shared').
 * A notification's `parameters` and a type's configuration travel as base64 of UTF-8 JSON;
 * they are edited as JSON text and checked before sending. Plugins are registered from a .zip
 * (`notification_type register zip=base64`).
 */

import { formDialog } from '../forms.js';
import { busy, button, confirmDialog, h, replace, table, toast } from '../ui.js';
import {
  attrsOf,
  base64Decode,
  base64Encode,
  base64FromBytes,
  buildCommand,
  child,
  childElements,
} from '../wire.js';

function jsonText(b64) {
  if (!b64) return '{}';
  const text = base64Decode(b64);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function checkJson(text) {
  try {
    JSON.parse(text || '{}');
  } catch (e) {
    throw new Error(`Invalid JSON: ${e.message}`);
  }
  return text || '{}';
}

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  const { cluster, scope } = ctx;
  let types = [];
  let items = [];
  const typesEl = h('div');
  const itemsEl = h('div');
  const zip = h('input', { type: 'file', accept: '.zip', hidden: true, testid: 'plugin-file' });
  ctx.el.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Notifications'),
      button('New notification', () => edit(null), { kind: 'primary', testid: 'notification-new' }),
    ),
    itemsEl,
    h(
      'div',
      { class: 'page-head' },
      h('h2', {}, 'Notification plugins'),
      button('Register plugin (.zip)…', () => zip.click(), { testid: 'plugin-register' }),
      zip,
      button(
        'Sync plugin files to disk',
        () =>
          busy(
            null,
            async () => {
              await cluster.api(buildCommand('control', { action: 'syncnotifications' }));
              toast('Plugin files synchronised', 'success');
            },
            'Sync failed',
          ),
        { testid: 'plugin-sync' },
      ),
    ),
    typesEl,
  );

  zip.addEventListener('change', () =>
    busy(
      null,
      async () => {
        const f = zip.files[0];
        if (!f) return;
        const data = base64FromBytes(new Uint8Array(await f.arrayBuffer()));
        await cluster.api(buildCommand('notification_type', { action: 'register', zip: data }));
        toast(`Plugin ${f.name} registered`, 'success');
      },
      'Registration failed',
    ).finally(() => {
      zip.value = '';
    }),
  );

  async function edit(n) {
    let current = { type_id: types[0] ? types[0].id : '', name: '', subscribe_all: 'no', parameters: '' };
    if (n)
      current = attrsOf(
        child(await cluster.api(buildCommand('notification', { action: 'get', id: n.id })), 'notification'),
      );
    formDialog({
      title: n ? `Notification ${current.name}` : 'New notification',
      testid: 'notification-dialog',
      size: 'wide',
      fields: [
        {
          name: 'type_id',
          label: 'Plugin',
          type: 'select',
          value: current.type_id,
          testid: 'notification-type',
          options: types.map((t) => ({ value: t.id, label: `${t.name} (${t.scope})` })),
        },
        {
          name: 'name',
          label: 'Name',
          value: current.name,
          required: true,
          testid: 'notification-name',
          autofocus: true,
        },
        {
          name: 'subscribe_all',
          label: 'Subscribe every workflow',
          type: 'checkbox',
          value: current.subscribe_all === 'yes' || current.subscribe_all === '1',
          testid: 'notification-all',
        },
        {
          name: 'parameters',
          label: 'Plugin parameters (JSON)',
          type: 'textarea',
          rows: 10,
          value: jsonText(current.parameters),
          testid: 'notification-parameters',
        },
      ],
      onSubmit: async (v) => {
        await cluster.api(
          buildCommand(
            'notification',
            {
              action: n ? 'edit' : 'create',
              id: n ? n.id : undefined,
              type_id: v.type_id,
              name: v.name.trim(),
              subscribe_all: v.subscribe_all ? 'yes' : 'no',
              parameters: base64Encode(checkJson(v.parameters)),
            },
            [],
            ['parameters'],
          ),
        );
        toast(`Notification ${v.name} saved`, 'success');
      },
    });
  }

  async function configureType(t) {
    const root = await cluster.api(buildCommand('notification_type', { action: 'get_conf', id: t.id }));
    const conf = child(root, 'conf');
    formDialog({
      title: `Plugin ${t.name}: configuration`,
      testid: 'plugin-dialog',
      size: 'wide',
      fields: [
        {
          name: 'content',
          label: 'Configuration (JSON)',
          type: 'textarea',
          rows: 14,
          value: jsonText(conf ? conf.getAttribute('content') : ''),
          testid: 'plugin-conf',
        },
      ],
      onSubmit: async (v) => {
        await cluster.api(
          buildCommand('notification_type', {
            action: 'set_conf',
            id: t.id,
            content: base64Encode(checkJson(v.content)),
          }),
        );
        toast(`Plugin ${t.name} configured`, 'success');
      },
    });
  }

  const remove = async (what, label, attrs) => {
    if (
      !(await confirmDialog(`Delete ${label}? Workflows subscribed to it are unsubscribed.`, {
        confirmLabel: 'Delete',
        danger: true,
      }))
    )
      return;
    await cluster.api(buildCommand(what, attrs));
    toast(`${label} deleted`, 'success');
  };

  const typeName = (id) => (types.find((t) => t.id === id) || { name: `#${id}` }).name;

  function render() {
    replace(
      itemsEl,
      table({
        testid: 'notifications-table',
        rowTestid: 'notification-row',
        rowData: (n) => ({ id: n.id }),
        rows: items,
        empty: 'No notification.',
        columns: [
          { label: 'Name', render: (n) => h('strong', {}, n.name) },
          { label: 'Plugin', render: (n) => typeName(n.type_id) },
          { label: 'Scope', render: (n) => n.scope || '' },
          {
            label: '',
            class: 'actions',
            render: (n) => [
              button('Edit', () => busy(null, () => edit(n), 'Not loaded'), {
                kind: 'small',
                testid: 'notification-edit',
              }),
              ' ',
              button(
                'Delete',
                () =>
                  busy(
                    null,
                    () => remove('notification', `notification ${n.name}`, { action: 'delete', id: n.id }),
                    'Delete failed',
                  ),
                { kind: 'small danger', testid: 'notification-delete' },
              ),
            ],
          },
        ],
      }),
    );
    replace(
      typesEl,
      table({
        testid: 'plugins-table',
        rowTestid: 'plugin-row',
        rowData: (t) => ({ id: t.id }),
        rows: types,
        empty: 'No plugin registered.',
        columns: [
          { label: 'Plugin', render: (t) => h('strong', {}, t.name) },
          { label: 'Scope', render: (t) => t.scope || '' },
          { label: 'Description', render: (t) => t.description || '' },
          { label: 'Binary', render: (t) => h('code', {}, t.binary || '') },
          {
            label: '',
            class: 'actions',
            render: (t) => [
              button('Configure', () => busy(null, () => configureType(t), 'Not loaded'), {
                kind: 'small',
                testid: 'plugin-configure',
              }),
              ' ',
              button(
                'Unregister',
                () =>
                  busy(
                    null,
                    () => remove('notification_type', `plugin ${t.name}`, { action: 'unregister', id: t.id }),
                    'Unregister failed',
                  ),
                { kind: 'small danger', testid: 'plugin-unregister' },
              ),
            ],
          },
        ],
      }),
    );
  }

  scope.own(
    cluster.subscribe({
      types: ['NOTIFICATION_TYPE_CREATED', 'NOTIFICATION_TYPE_REMOVED'],
      command: buildCommand('notification_types', { action: 'list' }),
      onData: (root) => {
        types = childElements(root, 'notification_type').map(attrsOf);
        render();
      },
    }),
  );
  scope.own(
    cluster.subscribe({
      types: ['NOTIFICATION_CREATED', 'NOTIFICATION_MODIFIED', 'NOTIFICATION_REMOVED'],
      command: buildCommand('notifications', { action: 'list' }),
      onData: (root) => {
        items = childElements(root, 'notification').map(attrsOf);
        render();
      },
    }),
  );
  render();
}
