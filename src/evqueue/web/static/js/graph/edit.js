/**
 * The edits the graph makes on a workflow definition DOM: move a job (under another job, or
 * before / after a sibling), move a task to another job, add and remove jobs and tasks.
 *
 * Each function checks what the schema and evQueue require before touching the DOM, and
 * throws an Error with the reason otherwise (the caller shows it; nothing is changed):
 * a job keeps at least one task, a job never goes under itself or its own sub-jobs, and a
 * <subjobs> left empty is removed (workflow-doc.js removeElement).
 */

import { ensureChild, kids, newJob, newTask, removeElement } from '../pages/workflow-doc.js';

/** Where a dragged job lands relative to a target job. */
export const DROP = { BEFORE: 'before', AFTER: 'after', CHILD: 'child' };

// A job's <subjobs> left without a job goes (the schema wants at least one job in it).
function dropIfEmpty(subjobs) {
  if (subjobs.nodeName === 'subjobs' && subjobs.children.length === 0 && subjobs.parentNode.nodeName === 'job')
    subjobs.remove();
}

function refuseInside(job, target) {
  for (let el = target; el; el = el.parentNode) if (el === job) throw new Error('A job cannot go under itself.');
}

/**
 * Move job (with its sub-jobs) relative to target: before or after it among its siblings
 * (they run in parallel), or as the last sub-job of target (it runs after target).
 */
export function moveJob(job, target, where) {
  if (job === target) return;
  refuseInside(job, target);
  const from = job.parentNode;
  if (where === DROP.CHILD) ensureChild(target, 'subjobs').append(job);
  else target.parentNode.insertBefore(job, where === DROP.BEFORE ? target : target.nextSibling);
  dropIfEmpty(from);
}

/** Move job (with its sub-jobs) to the first level, after the first-level jobs. */
export function moveJobToTop(job) {
  const from = job.parentNode;
  ensureChild(job.ownerDocument.documentElement, 'subjobs').append(job);
  dropIfEmpty(from);
}

/** Move task into the tasks of job (last), or before another task when before is given. */
export function moveTask(task, job, before = null) {
  const from = task.parentNode;
  const tasks = ensureChild(job, 'tasks');
  if (from !== tasks && kids(from, 'task').length === 1)
    throw new Error('A job needs at least one task: add another task to it first, or delete the job.');
  tasks.insertBefore(task, before);
}

/** Add a new job: as a sub-job of parent, or at the first level when parent is null. */
export function addJob(doc, parent = null) {
  const container = ensureChild(parent || doc.documentElement, 'subjobs');
  const names = new Set(Array.from(doc.getElementsByTagName('job')).map((j) => j.getAttribute('name')));
  let n = 1;
  while (names.has(`job${n}`)) n += 1;
  const job = newJob(doc, `job${n}`);
  container.append(job);
  return job;
}

/** Add an empty task to job. */
export function addTask(job) {
  const task = newTask(job.ownerDocument);
  ensureChild(job, 'tasks').append(task);
  return task;
}

/** Remove a job and the jobs after it; the workflow keeps at least one job. */
export function removeJob(job) {
  const top = job.ownerDocument.documentElement;
  if (job.parentNode.parentNode === top && kids(job.parentNode, 'job').length === 1)
    throw new Error('A workflow needs at least one job.');
  removeElement(job);
}

/** Remove a task; its job keeps at least one. */
export function removeTask(task) {
  if (kids(task.parentNode, 'task').length === 1)
    throw new Error('A job needs at least one task: delete the job instead.');
  task.remove();
}

/**
 * The drop zone of a point over a job box: the left quarter puts the dragged job before the
 * target, the right quarter after it, the middle under it.
 * @param {number} fx the point's x as a fraction of the box width (0..1)
 */
export function dropZone(fx) {
  if (fx < 0.25) return DROP.BEFORE;
  if (fx > 0.75) return DROP.AFTER;
  return DROP.CHILD;
}
