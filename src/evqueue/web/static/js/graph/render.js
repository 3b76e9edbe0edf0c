/**
 * SVG drawing of a laid-out workflow picture (model.js): a box per job with its tasks, arrows
 * from a job to its sub-jobs, marks (◇ condition, ↻ loop, ⟲ retry, ✎ script) with their expression in
 * the tooltip. In an instance every task and job carries a state class and an icon, so the
 * colour never stands alone; running tasks show their progression.
 *
 * Elements carry data-testid graph-job / graph-task and data-ref ("3" for the 4th job in
 * drawing order, "3.1" for its 2nd task) so the editor finds the definition element back.
 */

import { flatten } from './layout.js';
import { HEAD, PAD, ROW } from './model.js';

const NS = 'http://www.w3.org/2000/svg';

export const STATE_ICONS = {
  pending: '·',
  queued: '…',
  running: '▶',
  waiting: '◷',
  retrying: '⟲',
  succeeded: '✓',
  failed: '✗',
  skipped: '↷',
  cancelled: '⊘',
};

/** Build an SVG element: attributes (testid → data-testid), then children (nodes or text). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    el.setAttribute(k === 'testid' ? 'data-testid' : k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

const title = (text) => svg('title', {}, text);
const marksText = (marks) => marks.map((m) => m.icon).join(' ');
const marksTitle = (marks) => marks.map((m) => `${m.icon} ${m.text}`).join('\n');

function edge(from, to) {
  const x1 = from.x + from.width / 2;
  const y1 = from.y + from.height;
  const x2 = to.x + to.width / 2;
  const y2 = to.y - 2;
  const m = (y1 + y2) / 2;
  return svg('path', { class: 'edge', d: `M${x1},${y1} C${x1},${m} ${x2},${m} ${x2},${y2}`, 'marker-end': 'url(#graph-arrow)' });
}

function taskRow(task, box, ref, selected) {
  const w = box.width - 2 * PAD;
  const state = task.state;
  const label = `${state ? `${STATE_ICONS[state]} ` : ''}${task.text}`;
  const tip = [task.full, task.queue && `queue ${task.queue}`, state && `state: ${state}`, marksTitle(task.marks)];
  return svg(
    'g',
    {
      class: `task${state ? ` state-${state}` : ''}`,
      testid: 'graph-task',
      'data-ref': ref,
      'data-name': task.full,
      'data-state': state,
      'aria-selected': String(selected === ref),
      tabindex: 0,
      transform: `translate(${PAD},${HEAD + Number(ref.split('.')[1]) * ROW})`,
    },
    svg('rect', { class: 'task-row', width: w, height: ROW - 3, rx: 3 }),
    task.progress > 0 && state === 'running'
      ? svg('rect', { class: 'progress', testid: 'graph-progress', y: ROW - 6, width: (w * Math.min(task.progress, 100)) / 100, height: 3 })
      : null,
    svg('text', { x: 6, y: 14 }, label),
    svg(
      'text',
      { x: w - 6, y: 14, class: 'aside', 'text-anchor': 'end' },
      [task.iteration && `#${task.iteration}`, marksText(task.marks), task.queue.slice(0, 12)].filter(Boolean).join(' '),
    ),
    title(tip.filter(Boolean).join('\n')),
  );
}

function jobGroup(box, ref, selected) {
  const state = box.state;
  const head = `${state ? `${STATE_ICONS[state]} ` : ''}${box.name}`;
  const aside = [box.iteration && `iteration ${box.iteration}`, marksText(box.marks)].filter(Boolean).join(' ');
  return svg(
    'g',
    {
      class: `job${state ? ` state-${state}` : ''}`,
      testid: 'graph-job',
      'data-ref': ref,
      'data-name': box.name,
      'data-state': state,
      'aria-selected': String(selected === ref),
      transform: `translate(${box.x},${box.y})`,
    },
    svg('rect', { class: 'job-box', width: box.width, height: box.height, rx: 6 }),
    // drop markers, shown while a job is dragged over this one (workflow-graph.js)
    svg('rect', { class: 'bar bar-before', x: -9, y: 0, width: 5, height: box.height, rx: 2 }),
    svg('rect', { class: 'bar bar-after', x: box.width + 4, y: 0, width: 5, height: box.height, rx: 2 }),
    svg('rect', { class: 'bar bar-child', x: 0, y: box.height + 4, width: box.width, height: 5, rx: 2 }),
    svg(
      'g',
      { class: 'job-head', testid: 'graph-job-head', tabindex: 0 },
      svg('rect', { class: 'head', width: box.width, height: HEAD - 4, rx: 6 }),
      svg('text', { x: PAD + 2, y: 16, class: 'name' }, head),
      svg('text', { x: box.width - PAD, y: 16, class: 'aside', 'text-anchor': 'end', testid: 'graph-job-marks' }, aside),
      title([box.name, state && `state: ${state}`, marksTitle(box.marks)].filter(Boolean).join('\n')),
    ),
    box.tasks.map((t, j) => taskRow(t, box, `${ref}.${j}`, selected)),
  );
}

/**
 * Draw a picture into a new <g>. Returns {g, boxes}: boxes[i] is the model box of ref "i".
 * selected: the ref of the selected job or task.
 */
export function drawPicture(picture, { selected = '' } = {}) {
  const all = flatten(picture.root);
  const boxes = all.filter((b) => b.kind === 'job');
  const edges = all.flatMap((b) => (b.children || []).map((c) => edge(b, c)));
  const start = picture.root;
  const g = svg(
    'g',
    { class: 'viewport' },
    svg('g', { class: 'edges' }, edges),
    svg(
      'g',
      { class: 'start', testid: 'graph-start', transform: `translate(${start.x},${start.y})` },
      svg('rect', { width: start.width, height: start.height, rx: 14 }),
      svg('text', { x: start.width / 2, y: 18, 'text-anchor': 'middle' }, start.name),
      title(start.full),
    ),
    boxes.map((b, i) => jobGroup(b, String(i), selected)),
  );
  return { g, boxes };
}

/** An empty <svg> with the arrow marker, sized to its container. */
export function graphSvg(testid) {
  return svg(
    'svg',
    { class: 'graph', testid, role: 'img', 'aria-label': 'Workflow graph' },
    svg(
      'defs',
      {},
      svg(
        'marker',
        { id: 'graph-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }),
      ),
    ),
  );
}
