/**
 * The structured view of a workflow definition: parameters, custom attributes, automatic tags,
 * and the tree of jobs and tasks (sibling jobs run in parallel, a sub-job after its parent,
 * the tasks of a job in parallel). Everything edits the definition DOM through workflow-doc.js;
 * env = {onChange(structural), queues, retrySchedules, checkXPath(expr)}.
 */

import { button, h } from '../ui.js';
import { attrField, contentField } from './editor-fields.js';
import { ensureChild, kids, move, newJob, newTask, parameterNames, removeElement } from './workflow-doc.js';

// preventDefault: these buttons sit inside <summary>, whose click would also fold the task.
const tool = (label, fn, testid, title, kind = 'small') =>
  button(
    label,
    (ev) => {
      ev.preventDefault();
      fn(ev);
    },
    { kind, testid, title },
  );

export function taskFields(task, env, params) {
  const type = task.getAttribute('type') || 'BINARY';
  const f = (spec) => attrField(task, spec, env);
  const inputs = kids(task, 'input');
  const stdin = kids(task, 'stdin')[0];
  const script = kids(task, 'script')[0];
  const addInput = () => {
    const input = task.ownerDocument.createElement('input');
    input.setAttribute('name', `arg${inputs.length + 1}`);
    const after = inputs[inputs.length - 1];
    task.insertBefore(input, after ? after.nextSibling : task.firstChild);
    env.onChange(true);
  };
  return h(
    'div',
    {},
    h(
      'div',
      { class: 'attrs' },
      f({
        name: 'type',
        label: 'Type',
        type: 'select',
        options: ['BINARY', 'SCRIPT'],
        structural: true,
        onValue: (v) => {
          if (v === 'BINARY') task.removeAttribute('type');
        },
      }),
      type === 'BINARY'
        ? f({
            name: 'path',
            label: 'Path',
            placeholder: '/usr/bin/program --option',
            help: 'Relative paths start in the tasks directory.',
          })
        : null,
      f({ name: 'name', label: type === 'SCRIPT' ? 'Script name' : 'Name (optional)' }),
      f({ name: 'queue', label: 'Queue', type: 'select', options: env.queues }),
      f({ name: 'parameters-mode', label: 'Inputs passed as', type: 'select', options: ['CMDLINE', 'ENV'] }),
      f({ name: 'output-method', label: 'Output', type: 'select', options: ['TEXT', 'XML'] }),
      f({ name: 'merge-stderr', label: 'Merge stderr into stdout', type: 'check', uncheckedValue: 'no' }),
      f({ name: 'wd', label: 'Working directory' }),
      f({
        name: 'retry_schedule',
        label: 'Retry schedule',
        type: 'select',
        options: ['', ...env.retrySchedules],
      }),
      f({ name: 'retry_retval', label: 'Retry only on return code', type: 'number' }),
      f({ name: 'retry_delay', label: 'Retry delay (s)', type: 'number' }),
      f({ name: 'retry_times', label: 'Retry times', type: 'number' }),
      f({ name: 'user', label: 'Remote user' }),
      f({ name: 'host', label: 'Remote host', help: 'May use {xpath} parts.' }),
      f({ name: 'queue_host', label: 'Queue host' }),
      f({ name: 'use-agent', label: 'Use the evQueue agent', type: 'check' }),
      f({ name: 'condition', label: 'Condition (XPath)', type: 'xpath' }),
      f({ name: 'loop', label: 'Loop (XPath)', type: 'xpath' }),
      f({ name: 'iteration-condition', label: 'Iteration condition (XPath)', type: 'xpath' }),
    ),
    h('h4', {}, 'Inputs'),
    inputs.map((input) =>
      h(
        'div',
        { class: 'node input', testid: 'editor-input' },
        h(
          'div',
          { class: 'attrs' },
          attrField(input, { name: 'name', label: 'Name' }, env),
          contentField(input, 'Value', env, { parameters: params }),
          attrField(input, { name: 'condition', label: 'Condition (XPath)', type: 'xpath' }, env),
        ),
        tool(
          'Remove input',
          () => {
            input.remove();
            env.onChange(true);
          },
          'input-remove',
        ),
      ),
    ),
    tool('Add input', addInput, 'input-add'),
    h('h4', {}, 'Standard input'),
    stdin
      ? [
          contentField(stdin, 'stdin', env, { parameters: params }),
          tool(
            'Remove stdin',
            () => {
              stdin.remove();
              env.onChange(true);
            },
            'stdin-remove',
          ),
        ]
      : tool(
          'Add stdin',
          () => {
            ensureChild(task, 'stdin');
            env.onChange(true);
          },
          'stdin-add',
        ),
    type === 'SCRIPT'
      ? [
          h('h4', {}, 'Script'),
          script
            ? contentField(script, 'Source', env, { multiline: true })
            : tool(
                'Add script',
                () => {
                  ensureChild(task, 'script').textContent = '#!/bin/sh\n';
                  env.onChange(true);
                },
                'script-add',
              ),
        ]
      : null,
  );
}

function taskNode(task, env, params) {
  const label = () => task.getAttribute('name') || task.getAttribute('path') || 'empty task';
  const details = h('details', {
    class: 'node task',
    testid: 'editor-task',
    open: !task.getAttribute('path') && !task.getAttribute('name'),
  });
  const tasks = task.parentNode;
  details.append(
    h(
      'summary',
      { class: 'node-head' },
      h('span', { class: 'title mono' }, label()),
      task.getAttribute('queue') ? h('span', { class: 'note' }, `queue ${task.getAttribute('queue')}`) : null,
      tool(
        '↑',
        () => {
          move(task, -1);
          env.onChange(true);
        },
        'task-up',
        'Move up',
      ),
      tool(
        '↓',
        () => {
          move(task, 1);
          env.onChange(true);
        },
        'task-down',
        'Move down',
      ),
      tool(
        'Delete task',
        () => {
          if (kids(tasks, 'task').length === 1) {
            env.warn('A job needs at least one task: delete the job instead.');
            return;
          }
          task.remove();
          env.onChange(true);
        },
        'task-delete',
        '',
        'small danger',
      ),
    ),
    taskFields(task, env, params),
  );
  return details;
}

function jobNode(job, env, params) {
  const doc = job.ownerDocument;
  const tasks = ensureChild(job, 'tasks');
  const sub = kids(job, 'subjobs')[0];
  const addSub = () => {
    ensureChild(job, 'subjobs').append(newJob(doc, 'new_job'));
    env.onChange(true);
  };
  const addSibling = () => {
    job.parentNode.insertBefore(newJob(doc, 'new_job'), job.nextSibling);
    env.onChange(true);
  };
  return h(
    'div',
    { class: 'node job', testid: 'editor-job', dataset: { name: job.getAttribute('name') || '' } },
    h(
      'div',
      { class: 'node-head' },
      h('span', { class: 'title' }, `Job ${job.getAttribute('name') || ''}`),
      tool(
        'Add task',
        () => {
          tasks.append(newTask(doc));
          env.onChange(true);
        },
        'job-add-task',
      ),
      tool(
        'Add job after this one',
        addSub,
        'job-add-child',
        'A job that starts when this one has succeeded',
      ),
      tool('Add parallel job', addSibling, 'job-add-sibling', 'A job that runs beside this one'),
      tool(
        '↑',
        () => {
          move(job, -1);
          env.onChange(true);
        },
        'job-up',
        'Move up',
      ),
      tool(
        '↓',
        () => {
          move(job, 1);
          env.onChange(true);
        },
        'job-down',
        'Move down',
      ),
      tool(
        'Delete job',
        () => {
          removeElement(job);
          env.onChange(true);
        },
        'job-delete',
        'Delete the job and the jobs after it',
        'small danger',
      ),
    ),
    h(
      'div',
      { class: 'attrs' },
      attrField(job, { name: 'name', label: 'Job name' }, env),
      attrField(job, { name: 'condition', label: 'Condition (XPath)', type: 'xpath' }, env),
      attrField(job, { name: 'loop', label: 'Loop (XPath)', type: 'xpath' }, env),
      attrField(
        job,
        { name: 'iteration-condition', label: 'Iteration condition (XPath)', type: 'xpath' },
        env,
      ),
    ),
    kids(tasks, 'task').map((t) => taskNode(t, env, params)),
    sub
      ? h(
          'div',
          { class: 'children' },
          h('p', { class: 'note' }, 'Then, once every task above has succeeded:'),
          kids(sub, 'job').map((j) => jobNode(j, env, params)),
        )
      : null,
  );
}

function listSection(root, container, item, title, fields, env) {
  const box = kids(root, container)[0];
  const rows = kids(box, item);
  const add = () => {
    const el = root.ownerDocument.createElement(item);
    for (const f of fields) el.setAttribute(f.name, f.initial || '');
    ensureChild(root, container).append(el);
    env.onChange(true);
  };
  const remove = (el) => {
    el.remove();
    if (box && box.children.length === 0 && container !== 'parameters') box.remove();
    env.onChange(true);
  };
  return h(
    'section',
    { class: 'panel', testid: `editor-${container}` },
    h('h3', {}, title),
    rows.map((el) =>
      h(
        'div',
        { class: 'node-head' },
        fields.map((f) => attrField(el, f, env)),
        tool('Remove', () => remove(el), `${item}-remove`),
      ),
    ),
    tool(`Add ${item.replace('-', ' ')}`, add, `${item}-add`),
  );
}

/** The whole structured editor for a definition document. */
export function renderStructure(doc, env) {
  const root = doc.documentElement;
  const params = parameterNames(doc);
  const subjobs = ensureChild(root, 'subjobs');
  return h(
    'div',
    { class: 'tree-editor', testid: 'editor-structure' },
    listSection(
      root,
      'parameters',
      'parameter',
      'Parameters (given at launch)',
      [{ name: 'name', label: 'Name', initial: 'param' }],
      env,
    ),
    h(
      'section',
      { class: 'panel' },
      h('h3', {}, 'Jobs'),
      kids(subjobs, 'job').map((j) => jobNode(j, env, params)),
      tool(
        'Add a first-level job',
        () => {
          subjobs.append(newJob(doc, 'new_job'));
          env.onChange(true);
        },
        'job-add',
      ),
    ),
    listSection(
      root,
      'custom-attributes',
      'custom-attribute',
      'Custom attributes (searchable in the history)',
      [
        { name: 'name', label: 'Name', initial: 'attribute' },
        { name: 'select', label: 'Value (XPath)', type: 'xpath', initial: '' },
        { name: 'description', label: 'Description' },
      ],
      env,
    ),
    listSection(
      root,
      'automatic-tags',
      'automatic-tag',
      'Automatic tags',
      [
        { name: 'name', label: 'Tag', initial: 'tag' },
        { name: 'condition', label: 'Condition (XPath)', type: 'xpath', initial: 'true()' },
        { name: 'description', label: 'Description' },
      ],
      env,
    ),
  );
}
