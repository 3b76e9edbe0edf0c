/**
 * The Graph tab of the workflow editor: the definition drawn as a tree of job boxes
 * (graph/*), edited on the picture.
 *
 * - Click a job's title or a task to select it: its fields open beside the graph.
 * - Drag a job's title onto another job: on its left quarter it goes before it (parallel
 *   sibling), on its right quarter after it, in the middle under it (a sub-job). Its sub-jobs
 *   move with it.
 * - Drag a job's title onto the start box to make it a first-level job.
 * - Drag a task onto another job (or onto a task, to go before it) to move it there.
 * - The toolbar adds a first-level job, a sub-job or a task to the selection, and deletes the
 *   selection (also the Delete key).
 * Every edit goes through env.onChange, so the XML view and the undo history follow.
 */

import { addJob, addTask, dropZone, moveJob, moveJobToTop, moveTask, removeJob, removeTask } from '../graph/edit.js';
import { flatten } from '../graph/layout.js';
import { workflowPicture } from '../graph/model.js';
import { GraphView } from '../graph/viewport.js';
import { button, h, replace } from '../ui.js';
import { attrField } from './editor-fields.js';
import { taskFields } from './editor-tree.js';
import { parameterNames } from './workflow-doc.js';

const DRAG_SLOP = 5;

/**
 * The graph editor. env: the editor's env (onChange, warn, queues, checkXPath …); scope: the
 * page's scope (its window listeners end with the page).
 */
export function graphEditor(env, scope) {
  const view = new GraphView({ testid: 'workflow-graph', height: '65vh' });
  const side = h('div', { class: 'graph-side panel', testid: 'graph-side' });
  const ghost = h('div', { class: 'graph-ghost', hidden: true, testid: 'graph-ghost' });
  let doc = null;
  let selected = null; // a job or task element of the definition

  const refOf = (boxes, el) => {
    for (let i = 0; i < boxes.length; i += 1) {
      const box = boxes[i];
      if (box.el === el) return String(i);
      const j = box.tasks.findIndex((t) => t.el === el);
      if (j >= 0) return `${i}.${j}`;
    }
    return '';
  };

  function redraw() {
    if (!doc) return;
    if (selected && !doc.contains(selected)) selected = null;
    const picture = workflowPicture(doc.documentElement);
    view.draw(picture, refOf(flatten(picture.root).filter((b) => b.kind === 'job'), selected));
  }

  function drawSide() {
    if (!selected) {
      replace(side, h('p', { class: 'note' }, [
          'Click a job or a task to edit it. Drag a job by its title onto another job: on its left or right edge it runs beside it, in the middle after it (a sub-job); onto "start" it becomes a first-level job. ',
          'Drag a task onto another job to move it there. Ctrl+Z undoes, Ctrl+Y redoes.',
        ].join('')));
      return;
    }
    const local = { ...env, onChange: (structural) => changed(structural, false) };
    if (selected.nodeName === 'job')
      replace(
        side,
        h('h3', {}, `Job ${selected.getAttribute('name') || ''}`),
        h(
          'div',
          { class: 'attrs', testid: 'graph-job-fields' },
          attrField(selected, { name: 'name', label: 'Job name' }, local),
          attrField(selected, { name: 'condition', label: 'Condition (XPath)', type: 'xpath' }, local),
          attrField(selected, { name: 'loop', label: 'Loop (XPath)', type: 'xpath' }, local),
          attrField(selected, { name: 'iteration-condition', label: 'Iteration condition (XPath)', type: 'xpath' }, local),
        ),
      );
    else
      replace(
        side,
        h('h3', {}, `Task ${selected.getAttribute('name') || selected.getAttribute('path') || ''}`),
        h('div', { testid: 'graph-task-fields' }, taskFields(selected, local, parameterNames(doc))),
      );
  }

  /** After an edit: the editor re-serializes; the graph redraws; the side panel only if needed. */
  function changed(structural, sideToo = true) {
    env.onChange(structural);
    redraw();
    if (sideToo || structural) drawSide();
  }

  const attempt = (fn) => {
    try {
      fn();
      changed(true);
    } catch (e) {
      env.warn(e.message);
    }
  };

  const select = (el) => {
    selected = el;
    redraw();
    drawSide();
  };

  const currentJob = () => (selected && selected.nodeName === 'task' ? selected.closest('job') : selected);
  const toolbar = h(
    'div',
    { class: 'toolbar graph-toolbar' },
    button('Add first-level job', () => attempt(() => (selected = addJob(doc))), { kind: 'small', testid: 'graph-add-job' }),
    button('Add sub-job', () => currentJob() && attempt(() => (selected = addJob(doc, currentJob()))), { kind: 'small', testid: 'graph-add-subjob', title: 'A job that runs after the selected one' }),
    button('Add task', () => currentJob() && attempt(() => (selected = addTask(currentJob()))), { kind: 'small', testid: 'graph-add-task' }),
    button('Delete', () => deleteSelected(), { kind: 'small danger', testid: 'graph-delete', title: 'Delete the selected job (with its sub-jobs) or task' }),
  );

  function deleteSelected() {
    if (!selected) return;
    const el = selected;
    attempt(() => {
      if (el.nodeName === 'job') removeJob(el);
      else removeTask(el);
      selected = null;
    });
  }

  // -- drag and drop: pointer events, the drop target found under the pointer ----------------
  let press = null;
  const clearMarks = () => view.svg.querySelectorAll('.drop-before, .drop-after, .drop-child, .drop-task').forEach((g) => g.classList.remove('drop-before', 'drop-after', 'drop-child', 'drop-task'));

  function targetAt(x, y) {
    const under = document.elementFromPoint(x, y);
    const start = under && under.closest && under.closest('.start');
    if (start && press && !press.task && view.svg.contains(start)) return { g: start, top: true, mark: 'drop-child' };
    const hit = view.hit(under);
    if (!hit || !press) return null;
    const g = view.svg.querySelector(`[data-ref="${hit.ref.split('.')[0]}"]`);
    if (press.task) return { g: hit.task ? view.svg.querySelector(`[data-ref="${hit.ref}"]`) : g, job: hit.box.el, before: hit.task ? hit.task.el : null, mark: 'drop-task' };
    const r = g.querySelector('.job-box').getBoundingClientRect();
    const zone = dropZone((x - r.left) / r.width);
    return { g, job: hit.box.el, zone, mark: `drop-${zone}` };
  }

  view.svg.addEventListener('pointerdown', (ev) => {
    const hit = view.hit(ev.target);
    if (ev.button !== 0 || !hit) return;
    const onHead = ev.target.closest('.job-head');
    press = { x: ev.clientX, y: ev.clientY, el: hit.task ? hit.task.el : hit.box.el, task: Boolean(hit.task), drag: Boolean(hit.task || onHead), moving: false };
    ev.preventDefault();
  });
  scope.listen(window, 'pointermove', (ev) => {
    if (!press || !press.drag) return;
    if (!press.moving && Math.hypot(ev.clientX - press.x, ev.clientY - press.y) < DRAG_SLOP) return;
    press.moving = true;
    ghost.hidden = false;
    replace(ghost, press.task ? `task ${press.el.getAttribute('name') || press.el.getAttribute('path') || ''}` : `job ${press.el.getAttribute('name') || ''}`);
    Object.assign(ghost.style, { left: `${ev.clientX + 12}px`, top: `${ev.clientY + 8}px` });
    clearMarks();
    const t = targetAt(ev.clientX, ev.clientY);
    if (t && t.g) t.g.classList.add(t.mark);
  });
  scope.listen(window, 'pointerup', (ev) => {
    if (!press) return;
    const p = press;
    press = null;
    ghost.hidden = true;
    clearMarks();
    if (!p.moving) return select(p.el);
    press = p;
    const t = targetAt(ev.clientX, ev.clientY);
    press = null;
    if (!t || t.job === p.el) return;
    selected = p.el;
    if (t.top) attempt(() => moveJobToTop(p.el));
    else attempt(() => (p.task ? moveTask(p.el, t.job, t.before) : moveJob(p.el, t.job, t.zone)));
  });
  view.svg.addEventListener('keydown', (ev) => {
    const hit = view.hit(ev.target);
    if (hit && (ev.key === 'Enter' || ev.key === ' ')) {
      ev.preventDefault();
      select(hit.task ? hit.task.el : hit.box.el);
    } else if (ev.key === 'Delete') deleteSelected();
  });

  const el = h('div', { class: 'graph-editor', testid: 'editor-graph' }, toolbar, h('div', { class: 'graph-split' }, view.el, side), ghost);
  return {
    el,
    /** Show a (new) definition document. */
    show(next) {
      if (next !== doc) selected = null;
      doc = next;
      redraw();
      drawSide();
      return el;
    },
    /** Fit the next drawing to the view (a workflow was loaded or uploaded). */
    refit: () => view.refit(),
  };
}
