/**
 * The picture of a workflow as a tree of boxes: one box per job holding its tasks, below a
 * "start" box carrying the workflow parameters. The same model serves a definition (editor)
 * and an instance (its jobs and tasks carry status, progression, loop clones).
 *
 * Box sizes are estimated from the text (no DOM measuring, so laying out 200 jobs costs no
 * reflow); long labels are cut and the full text goes to the box's tooltip.
 */

import { layoutTree } from './layout.js';

export const HEAD = 26; // job name row
export const ROW = 22; // one task
export const PAD = 6;
const CHAR = 7; // average width of a 12 px character
const MIN_WIDTH = 170;
const MAX_CHARS = 34;

const kids = (el, name) => (el ? Array.from(el.children).filter((c) => c.nodeName === name) : []);

/** The text shown for a task: its name, or the basename of its path and its first argument. */
export function taskText(task) {
  const name = task.getAttribute('name');
  if (name) return name;
  const path = (task.getAttribute('path') || '').trim();
  if (!path) return 'empty task';
  const [bin, ...args] = path.split(/\s+/);
  return [bin.split('/').pop(), ...args].join(' ');
}

/** Cut text to n characters with an ellipsis. */
export function cut(text, n = MAX_CHARS) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

/** The state word of an instance task: queued, running, succeeded, failed, skipped, … */
export function taskState(task) {
  const status = task.getAttribute('status') || '';
  const error = task.getAttribute('error') || '';
  switch (status) {
    case 'QUEUED':
      return 'queued';
    case 'EXECUTING':
      return 'running';
    case 'WAITING':
      return 'waiting';
    case 'SKIPPED':
      return 'skipped';
    case 'ABORTED':
      return /user request|cancelling/i.test(error) ? 'cancelled' : 'failed';
    case 'TERMINATED':
      if (task.getAttribute('retval') === '0') return 'succeeded';
      if (task.getAttribute('retry_at')) return 'retrying';
      return /user request|cancelling/i.test(error) ? 'cancelled' : 'failed';
    default:
      return 'pending';
  }
}

// The state a job shows: its own status, else the most urgent state of its tasks.
const URGENCY = ['failed', 'cancelled', 'running', 'retrying', 'queued', 'waiting', 'succeeded', 'skipped', 'pending'];

function jobState(job, tasks) {
  const s = job.getAttribute('status');
  if (s === 'SKIPPED') return 'skipped';
  if (s === 'ABORTED') return 'failed';
  if (s === 'WAITING') return 'waiting';
  const states = tasks.map((t) => t.state);
  return URGENCY.find((u) => states.includes(u)) || 'pending';
}

// "iteration k of n" for loop clones: siblings of one name that each have a context.
function iterations(els, key) {
  const groups = new Map();
  for (const el of els) {
    if (!el.hasAttribute('context-id')) continue;
    const k = key(el);
    groups.set(k, [...(groups.get(k) || []), el]);
  }
  const out = new Map();
  for (const list of groups.values())
    if (list.length > 1) list.forEach((el, i) => out.set(el, `${i + 1}/${list.length}`));
  return out;
}

function taskMarks(task) {
  const a = (n) => task.getAttribute(n);
  const marks = [];
  if (a('type') === 'SCRIPT') marks.push({ icon: '✎', text: 'script' });
  if (a('condition')) marks.push({ icon: '◇', text: `condition: ${a('condition')}` });
  if (a('loop')) marks.push({ icon: '↻', text: `loop: ${a('loop')}` });
  if (a('retry_schedule')) marks.push({ icon: '⟲', text: `retry schedule ${a('retry_schedule')}` });
  else if (a('retry_times')) marks.push({ icon: '⟲', text: `retry ${a('retry_times')}× every ${a('retry_delay') || 0} s` });
  return marks;
}

function jobMarks(job) {
  const a = (n) => job.getAttribute(n);
  const marks = [];
  if (a('condition')) marks.push({ icon: '◇ if', text: `condition: ${a('condition')}` });
  if (a('loop')) marks.push({ icon: '↻ loop', text: `loop: ${a('loop')}` });
  if (a('iteration-condition')) marks.push({ icon: '◇ each if', text: `iteration condition: ${a('iteration-condition')}` });
  return marks;
}

function jobBox(job, live, iteration) {
  const taskEls = kids(kids(job, 'tasks')[0], 'task');
  const taskIter = iterations(taskEls, (t) => t.getAttribute('name') || t.getAttribute('path'));
  const tasks = taskEls.map((el) => {
    const queue = el.getAttribute('queue') || '';
    const t = { el, text: cut(taskText(el), 26), full: taskText(el), queue, marks: taskMarks(el) };
    if (live) {
      // the tasks of a skipped job are never started: they show the job's state
      t.state = job.getAttribute('status') === 'SKIPPED' && !el.getAttribute('status') ? 'skipped' : taskState(el);
      t.progress = Number(el.getAttribute('progression') || 0);
      t.iteration = taskIter.get(el) || '';
    }
    return t;
  });
  const name = job.getAttribute('name') || '(job)';
  const box = { kind: 'job', el: job, name, marks: jobMarks(job), tasks, iteration: iteration || '' };
  if (live) box.state = jobState(job, tasks);
  const longest = Math.max(
    name.length + box.marks.length * 7 + (iteration ? 8 : 0),
    ...tasks.map((t) => t.text.length + 2 + Math.min(t.queue.length, 12) + t.marks.length * 2),
  );
  box.width = Math.max(MIN_WIDTH, Math.min(longest, MAX_CHARS + 12) * CHAR + 2 * PAD);
  box.height = HEAD + Math.max(tasks.length, 1) * ROW + PAD;
  box.children = jobBoxes(kids(job, 'subjobs')[0], live);
  return box;
}

function jobBoxes(subjobs, live) {
  const jobs = kids(subjobs, 'job');
  const iter = iterations(jobs, (j) => j.getAttribute('name') || '');
  return jobs.map((j) => jobBox(j, live, iter.get(j)));
}

/**
 * The laid-out picture of a <workflow> element (definition or instance).
 *
 * @param {Element} workflow the definition root or the instance's <workflow>
 * @param {{live?: boolean}} options live: read the instance states
 * @returns {{root: Object, width: number, height: number}} root is the start box
 */
export function workflowPicture(workflow, { live = false } = {}) {
  const params = kids(kids(workflow, 'parameters')[0], 'parameter').map((p) => p.getAttribute('name'));
  const label = params.length ? `start (${params.join(', ')})` : 'start';
  const root = {
    kind: 'start',
    el: workflow,
    name: cut(label, 40),
    full: label,
    width: Math.max(90, Math.min(label.length, 40) * CHAR + 24),
    height: 28,
    children: jobBoxes(kids(workflow, 'subjobs')[0], live),
  };
  const size = layoutTree(root);
  return { root, ...size };
}
