/**
 * The notifications a workflow is subscribed to (editor tab): one checkbox per configured
 * notification; each click sends `workflow subscribe_notification|unsubscribe_notification`.
 *
 * Data: NOTIFICATION_* running `<notifications action="list"/>`, and WORKFLOW_SUBSCRIBED /
 * WORKFLOW_UNSUBSCRIBED (object = the workflow) running `<workflow action="list_notifications"/>`.
 */

import { busy, h, replace, table } from '../ui.js';
import { attrsOf, buildCommand, childElements } from '../wire.js';

/** ctx: {cluster, scope, session}; id: the workflow id. */
export function notificationsView(ctx, id) {
  const { cluster, scope, session } = ctx;
  let all = [];
  let subscribed = new Set();
  const box = h('div', { testid: 'editor-notifications' }, h('p', { class: 'note' }, 'Loading…'));

  const toggle = (n, on) =>
    busy(
      null,
      () =>
        cluster.api(
          buildCommand('workflow', {
            action: on ? 'subscribe_notification' : 'unsubscribe_notification',
            id,
            notification_id: n.id,
          }),
        ),
      'Subscription not changed',
    );

  function render() {
    replace(
      box,
      h('p', { class: 'note' }, 'The checked notifications run when an instance of this workflow ends.'),
      table({
        rows: all,
        empty: 'No notification is configured (Settings › Notifications).',
        columns: [
          {
            label: 'On',
            render: (n) => {
              const cb = h('input', {
                type: 'checkbox',
                checked: subscribed.has(n.id),
                disabled: !session.isAdmin,
                testid: 'notification-toggle',
                'aria-label': `Notify with ${n.name}`,
              });
              cb.addEventListener('change', () => toggle(n, cb.checked));
              return cb;
            },
          },
          { label: 'Notification', render: (n) => n.name },
          { label: 'Scope', render: (n) => n.scope || '' },
        ],
      }),
    );
  }

  scope.own(
    cluster.subscribe({
      types: ['NOTIFICATION_CREATED', 'NOTIFICATION_MODIFIED', 'NOTIFICATION_REMOVED'],
      command: buildCommand('notifications', { action: 'list' }),
      onData: (root) => {
        all = childElements(root, 'notification').map(attrsOf);
        render();
      },
    }),
  );
  scope.own(
    cluster.subscribe({
      types: ['WORKFLOW_SUBSCRIBED', 'WORKFLOW_UNSUBSCRIBED'],
      objectId: Number(id),
      command: buildCommand('workflow', { action: 'list_notifications', id }),
      onData: (root) => {
        subscribed = new Set(childElements(root, 'notification').map((n) => n.getAttribute('id')));
        render();
      },
      onError: (e) => replace(box, h('p', { class: 'note error' }, e.message)),
    }),
  );
  return box;
}
