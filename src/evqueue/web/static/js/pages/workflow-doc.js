/**
 * Editing helpers over a workflow definition DOM (semantics.md §1.2, workflow.xsd).
 *
 * Rules the schema imposes and these helpers keep:
 * - child order: workflow = parameters?, custom-attributes?, automatic-tags?, subjobs;
 *   job = tasks, subjobs?; task = input*, stdin?, script?;
 * - a job has at least one task, subjobs at least one job (empty containers are removed);
 * - input/stdin/script hold mixed content (text and <value>/<copy>): whitespace there is data,
 *   so they are never re-indented (INLINE).
 * Attribute spellings follow the schema: hyphens for parameters-mode, output-method,
 * merge-stderr, use-agent, iteration-condition; underscores for retry_* and queue_host.
 */

import { parseXml, prettyXml, serializeXml } from '../wire.js';

export const INLINE = new Set(['input', 'stdin', 'script']);

export const ORDER = {
  workflow: ['parameters', 'custom-attributes', 'automatic-tags', 'subjobs'],
  job: ['tasks', 'subjobs'],
  task: ['input', 'stdin', 'script'],
};

export const NEW_WORKFLOW = `<workflow>
  <parameters/>
  <subjobs>
    <job name="job1">
      <tasks>
        <task path="/bin/echo" queue="default" output-method="TEXT" parameters-mode="CMDLINE" merge-stderr="no"><input>hello</input></task>
      </tasks>
    </job>
  </subjobs>
</workflow>`;

/** The indented text of a definition, mixed content untouched. */
export function definitionText(doc) {
  return prettyXml(doc, INLINE);
}

/** Child elements of el named name. */
export function kids(el, name) {
  return el ? Array.from(el.children).filter((c) => c.nodeName === name) : [];
}

/** The child `name` of parent, created at its schema position when missing. */
export function ensureChild(parent, name) {
  const existing = kids(parent, name)[0];
  if (existing) return existing;
  const order = ORDER[parent.nodeName] || [];
  const el = parent.ownerDocument.createElement(name);
  const rank = order.indexOf(name);
  const before = Array.from(parent.children).find((c) => order.indexOf(c.nodeName) > rank);
  parent.insertBefore(el, before || null);
  return el;
}

/** A new task with the attributes evQueue's editor always writes. */
export function newTask(doc) {
  const t = doc.createElement('task');
  for (const [k, v] of [
    ['path', ''],
    ['queue', 'default'],
    ['output-method', 'TEXT'],
    ['parameters-mode', 'CMDLINE'],
    ['merge-stderr', 'no'],
  ])
    t.setAttribute(k, v);
  return t;
}

/** A new job holding one new task. */
export function newJob(doc, name = '') {
  const j = doc.createElement('job');
  if (name) j.setAttribute('name', name);
  j.append(doc.createElement('tasks'));
  j.firstChild.append(newTask(doc));
  return j;
}

/** Set or remove (empty value) an attribute. */
export function setAttr(el, name, value) {
  if (value === '' || value === null || value === undefined) el.removeAttribute(name);
  else el.setAttribute(name, value);
}

/** Remove el; then remove the containers left empty (tasks of a job stay: the caller decides). */
export function removeElement(el) {
  const parent = el.parentNode;
  el.remove();
  if (
    parent &&
    parent.nodeName === 'subjobs' &&
    parent.children.length === 0 &&
    parent.parentNode &&
    parent.parentNode.nodeName === 'job'
  )
    parent.remove();
}

/** Move el one step among its same-name siblings (dir -1 up, +1 down). */
export function move(el, dir) {
  const siblings = kids(el.parentNode, el.nodeName);
  const i = siblings.indexOf(el);
  const j = i + dir;
  if (j < 0 || j >= siblings.length) return;
  if (dir < 0) el.parentNode.insertBefore(el, siblings[j]);
  else el.parentNode.insertBefore(el, siblings[j].nextSibling);
}

/** The mixed content of el as XML text ("hello <value select='…'/>"). */
export function innerXml(el) {
  return Array.from(el.childNodes)
    .map((n) => serializeXml(n))
    .join('');
}

/** Replace the content of el with XML text; throws XmlSyntaxError on bad markup. */
export function setInnerXml(el, text) {
  const frag = parseXml(`<x>${text}</x>`).documentElement;
  el.replaceChildren(...Array.from(frag.childNodes).map((n) => el.ownerDocument.importNode(n, true)));
}

function checkTask(task, where, problems) {
  const type = task.getAttribute('type') || 'BINARY';
  const label = `${where} task ${task.getAttribute('name') || task.getAttribute('path') || '(unnamed)'}`;
  if (!task.getAttribute('queue')) problems.push(`${label}: a queue is required`);
  if (type === 'BINARY' && !task.getAttribute('path')) problems.push(`${label}: a path is required`);
  if (type === 'SCRIPT') {
    if (!task.getAttribute('name')) problems.push(`${label}: a script task needs a name`);
    if (kids(task, 'script').length === 0) problems.push(`${label}: a script task needs a script`);
  }
}

function checkJobs(container, path, problems) {
  const jobs = kids(container, 'job');
  if (jobs.length === 0) problems.push(`${path || 'workflow'}: at least one job is required`);
  jobs.forEach((job, i) => {
    const where = `${path}job ${job.getAttribute('name') || `#${i + 1}`}`;
    const tasks = kids(kids(job, 'tasks')[0], 'task');
    if (tasks.length === 0) problems.push(`${where}: a job needs at least one task`);
    tasks.forEach((t) => checkTask(t, `${where},`, problems));
    const sub = kids(job, 'subjobs')[0];
    if (sub) checkJobs(sub, `${where} › `, problems);
  });
}

/** Problems the engine would refuse, found before sending (the engine stays the judge). */
export function localProblems(doc) {
  const root = doc.documentElement;
  if (!root || root.nodeName !== 'workflow') return ['The root element must be <workflow>'];
  const problems = [];
  checkJobs(kids(root, 'subjobs')[0], '', problems);
  return problems;
}

/** Names of the declared parameters. */
export function parameterNames(doc) {
  return kids(kids(doc.documentElement, 'parameters')[0], 'parameter').map((p) => p.getAttribute('name'));
}
