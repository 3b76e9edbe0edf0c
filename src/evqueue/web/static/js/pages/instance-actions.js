/**
 * Actions on one workflow instance, shared by the instance lists and the details dialog.
 *
 * Each instance action goes to the node that runs the instance (the engine answers
 * UNKNOWN_INSTANCE elsewhere). Destructive actions ask first. "Kill" is evQueue's sequence
 * (frontend.md §2.2): cancel (nothing new starts), then query the instance and SIGKILL every
 * task still EXECUTING with `instance killtask id pid`.
 */

import { confirmDialog, toast } from '../ui.js';
import { buildCommand, child, childElements } from '../wire.js';

const target = (node) => (node ? { node } : {});

/** Cancel: running tasks finish, nothing new starts, pending retries are dropped. */
export async function cancelInstance(cluster, id, node) {
  const ok = await confirmDialog(
    `Cancel instance ${id}? Running tasks go on to the end; nothing new starts and retries are dropped.`,
    { confirmLabel: 'Cancel instance', danger: true },
  );
  if (!ok) return false;
  await cluster.api(buildCommand('instance', { action: 'cancel', id }), target(node));
  toast(`Instance ${id} cancelled`, 'success');
  return true;
}

/** PIDs of the tasks of an instance document that are EXECUTING. */
export function executingPids(workflowEl) {
  return Array.from(workflowEl.getElementsByTagName('task'))
    .filter((t) => t.getAttribute('status') === 'EXECUTING' && t.getAttribute('pid'))
    .map((t) => t.getAttribute('pid'));
}

/** Kill: cancel, then kill every executing task. */
export async function killInstance(cluster, id, node) {
  const ok = await confirmDialog(
    `Kill instance ${id}? It is cancelled and every running task gets SIGKILL.`,
    { confirmLabel: 'Kill instance', danger: true },
  );
  if (!ok) return false;
  await cluster.api(buildCommand('instance', { action: 'cancel', id }), target(node));
  const root = await cluster.api(buildCommand('instance', { action: 'query', id }), target(node));
  const wf = child(root, 'workflow');
  const pids = wf ? executingPids(wf) : [];
  for (const pid of pids) {
    await cluster.api(buildCommand('instance', { action: 'killtask', id, pid }), target(node));
  }
  toast(`Instance ${id} killed (${pids.length} task${pids.length === 1 ? '' : 's'} stopped)`, 'success');
  return true;
}

/** Kill one task of a running instance. */
export async function killTask(cluster, id, node, pid, label = '') {
  const ok = await confirmDialog(`Kill task ${label || pid} of instance ${id} (SIGKILL)?`, {
    confirmLabel: 'Kill task',
    danger: true,
  });
  if (!ok) return false;
  await cluster.api(buildCommand('instance', { action: 'killtask', id, pid }), target(node));
  toast(`Task ${label || pid} killed`, 'success');
  return true;
}

/** Delete a terminated instance from the history. */
export async function deleteInstance(cluster, id, node) {
  const ok = await confirmDialog(`Delete instance ${id} from the history? This cannot be undone.`, {
    confirmLabel: 'Delete',
    danger: true,
  });
  if (!ok) return false;
  await cluster.api(buildCommand('instance', { action: 'delete', id }), target(node));
  toast(`Instance ${id} deleted`, 'success');
  return true;
}

/** Debug relaunch: a new instance that keeps the successful tasks and reruns the failed ones. */
export async function debugResume(cluster, id, node) {
  const ok = await confirmDialog(
    `Relaunch instance ${id} in debug mode? A new instance is created: tasks that succeeded keep their output, failed and queued tasks run again.`,
    { confirmLabel: 'Relaunch in debug mode' },
  );
  if (!ok) return null;
  const root = await cluster.api(buildCommand('instance', { action: 'debugresume', id }), target(node));
  const newId = root.getAttribute('workflow-instance-id');
  toast(`Debug instance ${newId} launched`, 'success');
  return newId;
}

/** Launch-dialog preset that relaunches an instance with the same parameters and place. */
export function relaunchPreset(workflowEl, node, user) {
  const params = {};
  const paramsEl = child(workflowEl, 'parameters');
  for (const p of childElements(paramsEl, 'parameter')) params[p.getAttribute('name')] = p.textContent;
  const id = workflowEl.getAttribute('id');
  return {
    name: workflowEl.getAttribute('name'),
    parameters: params,
    node,
    user: workflowEl.getAttribute('user') || '',
    host: workflowEl.getAttribute('host') || '',
    comment: `Relaunch by ${user} from instance ${id}`,
  };
}
