/**
 * The lists the workflow editor offers while it is open, kept current by their events: the
 * queues and retry schedules a task can name (env.queues, env.retrySchedules) and the
 * workflow groups already in use (the group field's suggestions).
 */

import { h, replace } from '../ui.js';
import { buildCommand, childElements } from '../wire.js';

/** Subscribe, for the life of scope, to the lists the editor offers. */
export function followEditorLists(cluster, scope, env, groups) {
  scope.own(
    cluster.subscribe({
      types: ['QUEUE_CREATED', 'QUEUE_MODIFIED', 'QUEUE_REMOVED'],
      command: buildCommand('queuepool', { action: 'list' }),
      onData: (root) => {
        env.queues = childElements(root, 'queue').map((q) => q.getAttribute('name'));
      },
    }),
  );
  scope.own(
    cluster.subscribe({
      types: ['RETRYSCHEDULE_CREATED', 'RETRYSCHEDULE_MODIFIED', 'RETRYSCHEDULE_REMOVED'],
      command: buildCommand('retry_schedules', { action: 'list' }),
      onData: (root) => {
        env.retrySchedules = childElements(root, 'schedule').map((s) => s.getAttribute('name'));
      },
    }),
  );
  scope.own(
    cluster.subscribe({
      types: ['WORKFLOW_CREATED', 'WORKFLOW_MODIFIED', 'WORKFLOW_REMOVED'],
      command: buildCommand('workflows', { action: 'list' }),
      onData: (root) => {
        const names = [
          ...new Set(
            childElements(root, 'workflow')
              .map((w) => w.getAttribute('group'))
              .filter(Boolean),
          ),
        ];
        replace(
          groups,
          names.map((g) => h('option', { value: g })),
        );
      },
    }),
  );
}
