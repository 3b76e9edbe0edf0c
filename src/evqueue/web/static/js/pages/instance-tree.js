/**
 * Drawing of an instance document (protocol.md §4.1 "Instance XML"): the jobs as a nested
 * tree, each task with its status, return value, progress and a kill button while it runs.
 *
 * Sibling jobs run in parallel, a sub-job after its parent, the tasks of one job in parallel;
 * the tree shows exactly that nesting. Tasks are identified by their `evqid`.
 */

import { badge, button, h, progressBar } from '../ui.js';
import { child, childElements } from '../wire.js';

/** Status word and colour of a task element. */
export function taskStatus(task) {
  const status = task.getAttribute('status') || '';
  const retval = task.getAttribute('retval');
  switch (status) {
    case 'QUEUED':
      return { text: 'queued', kind: '' };
    case 'EXECUTING':
      return { text: 'running', kind: 'running' };
    case 'WAITING':
      return { text: 'waiting condition', kind: 'warn' };
    case 'SKIPPED':
      return { text: 'skipped', kind: '' };
    case 'ABORTED':
      return { text: 'aborted', kind: 'error' };
    case 'TERMINATED':
      if (task.getAttribute('retry_at'))
        return { text: `retry at ${task.getAttribute('retry_at')}`, kind: 'warn' };
      if (retval === '0') {
        const failedBefore = childElements(task, 'output').some((o) => o.getAttribute('retval') !== '0');
        return { text: failedBefore ? 'success after retry' : 'success', kind: failedBefore ? 'warn' : 'ok' };
      }
      return { text: `failed (${retval})`, kind: 'error' };
    default:
      return { text: 'not started', kind: '' };
  }
}

/** What a task runs: its name (scripts, named tasks) or its path. */
export function taskLabel(task) {
  return task.getAttribute('name') || task.getAttribute('path') || '(task)';
}

/** Counts of tasks by outcome, for the stacked bar. */
export function taskCounts(workflowEl) {
  const counts = { ok: 0, error: 0, running: 0, queued: 0, other: 0 };
  for (const t of workflowEl.getElementsByTagName('task')) {
    const s = t.getAttribute('status');
    if (s === 'EXECUTING') counts.running += 1;
    else if (s === 'QUEUED') counts.queued += 1;
    else if (s === 'ABORTED' || (s === 'TERMINATED' && t.getAttribute('retval') !== '0')) counts.error += 1;
    else if (s === 'TERMINATED') counts.ok += 1;
    else counts.other += 1;
  }
  return counts;
}

/** The stacked success/error/running/queued bar. */
export function countsBar(workflowEl) {
  const c = taskCounts(workflowEl);
  const total = c.ok + c.error + c.running + c.queued + c.other || 1;
  const part = (kind, n, label) =>
    n ? h('div', { class: kind, style: { width: `${(100 * n) / total}%` }, title: `${n} ${label}` }) : null;
  return h(
    'div',
    {},
    h(
      'div',
      { class: 'stacked', 'aria-hidden': 'true' },
      part('ok', c.ok, 'succeeded'),
      part('error', c.error, 'failed'),
      part('running', c.running, 'running'),
      part('queued', c.queued, 'queued'),
    ),
    h(
      'p',
      { class: 'note', testid: 'task-counts' },
      `${c.ok} succeeded, ${c.error} failed, ${c.running} running, ${c.queued} queued, ${c.other} not started or skipped`,
    ),
  );
}

function jobBadge(job) {
  const s = job.getAttribute('status');
  if (!s) return null;
  const kind = { ABORTED: 'error', SKIPPED: '', WAITING: 'warn' }[s] ?? '';
  return badge(s.toLowerCase(), kind);
}

function renderTask(task, opts) {
  const st = taskStatus(task);
  const evqid = task.getAttribute('evqid');
  const el = h(
    'div',
    {
      class: 'task',
      role: 'treeitem',
      tabIndex: 0,
      testid: 'task-row',
      'aria-selected': String(evqid === opts.selected),
      dataset: { evqid, status: task.getAttribute('status') || '' },
    },
    badge(st.text, st.kind),
    h('span', { class: 'name' }, taskLabel(task)),
    task.getAttribute('host') ? h('span', { class: 'note' }, `@${task.getAttribute('host')}`) : null,
    task.getAttribute('status') === 'EXECUTING' ? progressBar(task.getAttribute('progression') || 0) : null,
    task.getAttribute('error') ? h('span', { class: 'error-text' }, task.getAttribute('error')) : null,
    task.getAttribute('status') === 'EXECUTING' && opts.onKill && task.getAttribute('pid')
      ? button(
          'Kill',
          (ev) => {
            ev.stopPropagation();
            opts.onKill(task);
          },
          { kind: 'small danger', testid: 'killtask-button', title: 'SIGKILL this task' },
        )
      : null,
  );
  const select = () => opts.onSelect(evqid);
  el.addEventListener('click', select);
  el.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      select();
    }
  });
  return el;
}

function renderJobs(container, opts) {
  const list = h('ul', { class: 'tree', role: 'group' });
  for (const job of childElements(container, 'job')) {
    const name = job.getAttribute('name');
    const tasks = childElements(child(job, 'tasks'), 'task');
    const item = h(
      'li',
      { class: 'job', role: 'treeitem', dataset: { evqid: job.getAttribute('evqid') || '' } },
      h(
        'div',
        { class: 'job-head' },
        name ? `Job ${name}` : 'Job',
        jobBadge(job),
        job.getAttribute('details') ? h('span', { class: 'note' }, job.getAttribute('details')) : null,
        job.getAttribute('loop')
          ? h('span', { class: 'note', title: job.getAttribute('loop') }, '↻ loop')
          : null,
        job.getAttribute('condition')
          ? h('span', { class: 'note', title: job.getAttribute('condition') }, '⑂ condition')
          : null,
      ),
      tasks.map((t) => renderTask(t, opts)),
    );
    const sub = child(job, 'subjobs');
    if (sub) item.append(renderJobs(sub, opts));
    list.append(item);
  }
  return list;
}

/**
 * The tree of an instance. opts: {selected: evqid, onSelect(evqid), onKill(taskEl)|null}.
 */
export function renderTree(workflowEl, opts) {
  const subjobs = child(workflowEl, 'subjobs');
  const tree = subjobs ? renderJobs(subjobs, opts) : h('p', { class: 'note' }, 'No job.');
  tree.classList.add('root');
  tree.setAttribute('role', 'tree');
  return h('div', { testid: 'instance-tree' }, countsBar(workflowEl), tree);
}

/** The task element with that evqid, or null. */
export function findTask(workflowEl, evqid) {
  return (
    Array.from(workflowEl.getElementsByTagName('task')).find((t) => t.getAttribute('evqid') === evqid) || null
  );
}
