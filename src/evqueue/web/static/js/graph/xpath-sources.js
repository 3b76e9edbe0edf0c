/**
 * What an XPath expression of a workflow definition can read from where it is written
 * (semantics.md §1.5, §1.9): the workflow parameters, the outputs of the tasks of the parent
 * jobs (`evqGetParentJob(n)/evqGetOutput('t')`, n = 0 for the job right above), the loop
 * items in scope (`evqGetCurrentJob()/evqGetContext()`, `evqGetParentJob(n)/evqGetContext()`,
 * `.` inside a looped task), and, for custom attributes and automatic tags (computed once the
 * instance has ended), the outputs of every named job (`evqGetJob('j')/evqGetOutput('t')`).
 *
 * A job's own condition and loop are evaluated before its loop runs: its own loop item is only
 * reachable from its iteration-condition and from inside it.
 */

const kids = (el, name) => (el ? Array.from(el.children).filter((c) => c.nodeName === name) : []);
const quote = (s) => (s.includes("'") ? `"${s}"` : `'${s}'`);
const taskKey = (t) => t.getAttribute('name') || t.getAttribute('path') || '';
const jobName = (j) => j.getAttribute('name') || '(unnamed job)';

/** The job holding el (el itself for a job), or null at the workflow level. */
function jobOf(el) {
  for (let n = el; n && n.nodeType === 1; n = n.parentNode) if (n.nodeName === 'job') return n;
  return null;
}

/** The job above job (its parent in the tree), or null for a first-level job. */
function parentJob(job) {
  const up = job.parentNode && job.parentNode.parentNode;
  return up && up.nodeName === 'job' ? up : null;
}

function outputs(job, prefix, group) {
  return kids(kids(job, 'tasks')[0], 'task')
    .filter(taskKey)
    .map((t) => ({
      group,
      label: `output of ${taskKey(t)}`,
      expression: `${prefix}evqGetOutput(${quote(taskKey(t))})`,
      output: true,
    }));
}

/**
 * The sources reachable from attribute attr of element el (a job, task, input, stdin, script,
 * custom-attribute or automatic-tag). Each is {group, label, expression, output}: output is true
 * for a task output, whose inside a path can follow (`…/items/item`).
 */
export function xpathSources(el, attr = '') {
  const doc = el.ownerDocument;
  const sources = kids(kids(doc.documentElement, 'parameters')[0], 'parameter').map((p) => ({
    group: 'Workflow parameters',
    label: p.getAttribute('name'),
    expression: `evqGetWorkflowParameter(${quote(p.getAttribute('name'))})`,
  }));
  const current = jobOf(el);
  if (!current) {
    for (const job of Array.from(doc.getElementsByTagName('job')).filter((j) => j.getAttribute('name')))
      sources.push(...outputs(job, `evqGetJob(${quote(job.getAttribute('name'))})/`, `Job ${jobName(job)}`));
    return sources;
  }
  const onJobItself = el === current;
  const task = el.nodeName === 'task' ? el : el.parentNode.nodeName === 'task' ? el.parentNode : null;
  if (el.nodeName === 'input' && el.getAttribute('loop'))
    sources.push({ group: 'Loop items', label: "item of this input's loop", expression: '.' });
  else if (task && task.getAttribute('loop') && (task !== el || attr === 'iteration-condition'))
    sources.push({ group: 'Loop items', label: "item of this task's loop", expression: '.' });
  if (current.getAttribute('loop')) {
    if (!onJobItself)
      sources.push({ group: 'Loop items', label: `item of job ${jobName(current)}`, expression: 'evqGetCurrentJob()/evqGetContext()' });
    else if (attr === 'iteration-condition')
      sources.push({ group: 'Loop items', label: 'item of this iteration', expression: '.' });
  }
  let n = 0;
  for (let p = parentJob(current); p; p = parentJob(p), n += 1) {
    const group = n === 0 ? `Parent job ${jobName(p)}` : `Job ${jobName(p)} (${n + 1} levels up)`;
    sources.push(...outputs(p, `evqGetParentJob(${n})/`, group));
    if (p.getAttribute('loop'))
      sources.push({ group, label: `loop item of ${jobName(p)}`, expression: `evqGetParentJob(${n})/evqGetContext()` });
  }
  return sources;
}
