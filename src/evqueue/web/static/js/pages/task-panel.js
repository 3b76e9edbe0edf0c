/**
 * The details of one task inside the instance dialog: what it is, its inputs, and its
 * stdout / stderr / log.
 *
 * While the task is EXECUTING the shown stream is read with
 * `<processmanager action="tail" tid=… type=stdout|stderr|log/>` on the instance's node once a
 * second (the only polling in the UI: the engine has no output event), one request at a time,
 * and only for the stream on screen. Once it ends, the stored <output>/<stderr>/<log> of the
 * chosen execution are shown; outputs moved to the datastore are loaded on request. A poll that
 * races the task's end (UNKNOWN_INSTANCE "Unknown task ID") keeps the text already shown.
 * "Follow" keeps the view scrolled to the end; the line filter narrows what is shown.
 */

import { button, badge, h, replace, showError } from '../ui.js';
import { attrsOf, buildCommand, bytesFromBase64, childElements, prettyXml } from '../wire.js';
import { taskLabel, taskStatus } from './instance-tree.js';

const STREAMS = [
  ['stdout', 'output'],
  ['stderr', 'stderr'],
  ['log', 'log'],
];

async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new TextDecoder().decode(await new Response(stream).arrayBuffer());
}

function storedText(el) {
  if (!el) return '';
  if (el.children.length)
    return Array.from(el.children)
      .map((c) => prettyXml(c))
      .join('\n');
  return el.textContent;
}

export class TaskPanel {
  /** @param {Object} o {cluster, scope, id (instance), node (instance node or '')} */
  constructor({ cluster, scope, id, node }) {
    this.cluster = cluster;
    this.id = id;
    this.node = node;
    this.stream = 'stdout';
    this.execution = null; // index into the outputs; null = the latest
    this.follow = true;
    this.lineFilter = '';
    this.task = null;
    this.inFlight = false;
    this.liveText = '';
    this.el = h(
      'div',
      { class: 'task-panel', testid: 'task-panel' },
      h('p', { class: 'note' }, 'Select a task to see its details and output.'),
    );
    this.pre = h('pre', { class: 'output', testid: 'task-output', tabIndex: 0 });
    scope.every(1000, () => this.poll());
  }

  get executing() {
    return this.task && this.task.getAttribute('status') === 'EXECUTING' && this.task.getAttribute('tid');
  }

  /** Show (or refresh) a task element; keeps the chosen stream, execution and filter. */
  show(task) {
    const changed = !this.task || this.task.getAttribute('evqid') !== task.getAttribute('evqid');
    if (changed) {
      this.execution = null;
      this.liveText = '';
    }
    this.task = task;
    const a = attrsOf(task);
    const outputs = childElements(task, 'output');
    const st = taskStatus(task);
    const kv = (k, v) => (v ? [h('dt', {}, k), h('dd', {}, v)] : null);
    const execIndex = this.execution ?? outputs.length - 1;
    const out = outputs[execIndex];
    replace(
      this.el,
      h('h3', {}, taskLabel(task), ' ', badge(st.text, st.kind)),
      h(
        'dl',
        { class: 'kv' },
        kv('Type', a.type || 'BINARY'),
        kv('Path', a.path),
        kv('Queue', a.queue),
        kv('Remote', a.host ? `${a.user ? `${a.user}@` : ''}${a.host}` : ''),
        kv('PID', a.pid),
        kv('Task id', a.tid),
        kv('Return value', out ? out.getAttribute('retval') : a.retval),
        kv('Started', out ? out.getAttribute('execution_time') : a.execution_time),
        kv('Ended', out ? out.getAttribute('exit_time') : ''),
        kv('Executions', outputs.length > 1 ? String(outputs.length) : ''),
        kv('Retry', a.retry_at ? `at ${a.retry_at}${a.retry_times ? `, ${a.retry_times} left` : ''}` : ''),
        kv('Progress', a.progression && a.status === 'EXECUTING' ? `${a.progression} %` : ''),
        kv('Error', a.error),
        kv('Details', a.details),
      ),
      this.inputs(task),
      this.executions(outputs, execIndex),
      this.streams(task, execIndex),
    );
    if (!this.executing) this.setText(this.stored(task, execIndex));
    else if (changed) this.poll();
    else this.setText(this.liveText);
  }

  inputs(task) {
    const inputs = childElements(task, 'input');
    const stdin = childElements(task, 'stdin')[0];
    if (!inputs.length && !stdin) return null;
    return h(
      'div',
      {},
      h('h4', {}, 'Inputs'),
      h(
        'dl',
        { class: 'kv', testid: 'task-inputs' },
        inputs.map((i) => [
          h('dt', {}, i.getAttribute('name') || '(argument)'),
          h(
            'dd',
            { class: 'mono' },
            storedText(i),
            i.getAttribute('status') ? ` [${i.getAttribute('status')}]` : '',
          ),
        ]),
        stdin ? [h('dt', {}, 'stdin'), h('dd', { class: 'mono' }, storedText(stdin))] : null,
      ),
    );
  }

  executions(outputs, index) {
    if (outputs.length < 2) return null;
    const sel = h(
      'select',
      { testid: 'execution-select', 'aria-label': 'Execution' },
      outputs.map((o, i) =>
        h(
          'option',
          { value: i, selected: i === index },
          `#${i + 1} at ${o.getAttribute('execution_time') || '?'} → ${o.getAttribute('retval')}`,
        ),
      ),
    );
    sel.addEventListener('change', () => {
      this.execution = Number(sel.value);
      this.show(this.task);
    });
    return h('div', { class: 'toolbar' }, h('label', {}, 'Execution '), sel);
  }

  streams(task, execIndex) {
    const tabs = STREAMS.map(([name]) => {
      const b = button(
        name,
        () => {
          this.stream = name;
          this.liveText = '';
          this.show(this.task);
        },
        { kind: 'small', testid: `stream-${name}` },
      );
      b.setAttribute('aria-pressed', String(name === this.stream));
      return b;
    });
    const follow = h('input', {
      type: 'checkbox',
      checked: this.follow,
      testid: 'tail-follow',
      id: `follow-${this.id}`,
    });
    follow.addEventListener('change', () => {
      this.follow = follow.checked;
    });
    const filter = h('input', {
      type: 'search',
      placeholder: 'Show lines containing…',
      value: this.lineFilter,
      testid: 'output-filter',
      'aria-label': 'Filter output lines',
    });
    filter.addEventListener('input', () => {
      this.lineFilter = filter.value;
      this.setText(this.currentText);
    });
    const datastore = this.datastoreButton(task, execIndex);
    return h(
      'div',
      { class: 'streams' },
      h(
        'div',
        { class: 'toolbar' },
        tabs,
        this.executing ? badge('live', 'running') : null,
        h('span', { class: 'spacer' }),
        filter,
        h('label', { htmlFor: `follow-${this.id}` }, follow, ' follow'),
        button('Download', () => this.download(), { kind: 'small', testid: 'output-download' }),
      ),
      datastore,
      this.pre,
    );
  }

  datastoreButton(task, execIndex) {
    const el = childElements(task, STREAMS.find(([n]) => n === this.stream)[1])[execIndex];
    const dsid = el && el.getAttribute('datastore-id');
    if (!dsid) return null;
    const b = button(
      'Load from the datastore',
      async () => {
        b.disabled = true;
        try {
          const root = await this.cluster.api(buildCommand('datastore', { action: 'get', id: dsid }));
          const text =
            root.getAttribute('gzip') === 'yes'
              ? await gunzip(bytesFromBase64(root.textContent))
              : root.textContent;
          this.setText(text);
        } catch (e) {
          showError(e, 'Datastore read failed');
        } finally {
          b.disabled = false;
        }
      },
      { kind: 'small', testid: 'datastore-load' },
    );
    return h(
      'p',
      { class: 'note' },
      `This output is too large for the instance document (datastore entry ${dsid}). `,
      b,
    );
  }

  stored(task, execIndex) {
    const tag = STREAMS.find(([n]) => n === this.stream)[1];
    return storedText(childElements(task, tag)[execIndex]);
  }

  setText(text) {
    this.currentText = text || '';
    let shown = this.currentText;
    if (this.lineFilter)
      shown = shown
        .split('\n')
        .filter((l) => l.includes(this.lineFilter))
        .join('\n');
    this.pre.textContent = shown || (this.lineFilter ? '(no matching line)' : '(empty)');
    if (this.follow) this.pre.scrollTop = this.pre.scrollHeight;
  }

  async poll() {
    if (!this.executing || this.inFlight) return;
    this.inFlight = true;
    const tid = this.task.getAttribute('tid');
    const stream = this.stream;
    try {
      const root = await this.cluster.api(
        buildCommand('processmanager', { action: 'tail', tid, type: stream }),
        this.node ? { node: this.node } : {},
      );
      if (this.executing && this.task.getAttribute('tid') === tid && this.stream === stream) {
        this.liveText = root.textContent;
        this.setText(this.liveText);
      }
    } catch (e) {
      // The task ended between the last push and this poll: keep what was read, the push of
      // its end brings the stored output.
      if (e.code !== 'UNKNOWN_INSTANCE')
        this.pre.textContent = `(live output not available: ${e.message})`;
    } finally {
      this.inFlight = false;
    }
  }

  download() {
    const blob = new Blob([this.currentText || ''], { type: 'text/plain' });
    const a = h('a', {
      href: URL.createObjectURL(blob),
      download: `instance-${this.id}-task-${this.task ? this.task.getAttribute('evqid') : ''}-${this.stream}.txt`,
    });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
}
