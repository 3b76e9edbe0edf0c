/**
 * "Where used": which workflows name a queue or a retry schedule in their tasks, computed from
 * `<workflows action="list" full="yes"/>` (frontend.md §2.8). Deleting something in use is
 * refused in the UI before the engine would break those workflows.
 */

import { buildCommand, childElements } from '../wire.js';

/**
 * Subscribe to the full workflow list and call onUsage(map) with attribute value -> sorted
 * workflow names, for the task attribute `attribute` (queue, retry_schedule).
 */
export function watchUsage(cluster, scope, attribute, onUsage) {
  scope.own(
    cluster.subscribe({
      types: ['WORKFLOW_CREATED', 'WORKFLOW_MODIFIED', 'WORKFLOW_REMOVED'],
      command: buildCommand('workflows', { action: 'list', full: 'yes' }),
      onData: (root) => {
        const usage = new Map();
        for (const wf of childElements(root, 'workflow')) {
          const name = wf.getAttribute('name');
          for (const task of wf.getElementsByTagName('task')) {
            const value = task.getAttribute(attribute);
            if (!value) continue;
            if (!usage.has(value)) usage.set(value, new Set());
            usage.get(value).add(name);
          }
        }
        onUsage(new Map([...usage].map(([k, v]) => [k, [...v].sort()])));
      },
    }),
  );
}
