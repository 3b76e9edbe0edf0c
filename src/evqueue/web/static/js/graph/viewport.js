/**
 * A graph view: an <svg> that zooms (wheel, + / − buttons) and pans (drag the background),
 * with "Fit" to see the whole workflow. The zoom and pan survive redraws, so a live instance
 * or an edit does not throw the user back to the top-left corner.
 *
 * Pointer presses on jobs and tasks are left to the caller (selection, drag and drop): only a
 * press on the background pans.
 */

import { button, h, replace } from '../ui.js';
import { drawPicture, graphSvg } from './render.js';

const MIN = 0.2;
const MAX = 3;

export class GraphView {
  /**
   * @param {{testid: string, height?: string}} options testid of the <svg>; CSS height of the view
   */
  constructor({ testid, height = '60vh' }) {
    this.svg = graphSvg(testid);
    this.view = { k: 1, x: 0, y: 0 };
    this.fitted = false;
    this.picture = null;
    this.g = null;
    this.boxes = [];
    this.zoomLabel = h('span', { class: 'note', testid: 'graph-zoom' }, '100%');
    const tools = h(
      'div',
      { class: 'graph-tools' },
      button('−', () => this.zoomBy(1 / 1.25), { kind: 'small', testid: 'graph-zoom-out', title: 'Zoom out' }),
      this.zoomLabel,
      button('+', () => this.zoomBy(1.25), { kind: 'small', testid: 'graph-zoom-in', title: 'Zoom in' }),
      button('Fit', () => this.fit(), { kind: 'small', testid: 'graph-fit', title: 'Show the whole workflow' }),
    );
    this.frame = h('div', { class: 'graph-frame', style: { height } }, this.svg);
    this.el = h('div', { class: 'graph-view' }, tools, this.frame);
    this.svg.addEventListener('wheel', (ev) => this.onWheel(ev), { passive: false });
    this.svg.addEventListener('pointerdown', (ev) => this.onPan(ev));
  }

  /** Fit the next picture drawn (another workflow or instance is shown). */
  refit() {
    this.fitted = false;
  }

  /** Draw a picture (model.js); selected is the ref of the selected job or task. */
  draw(picture, selected = '') {
    this.picture = picture;
    const { g, boxes } = drawPicture(picture, { selected });
    if (this.g) this.g.replaceWith(g);
    else this.svg.append(g);
    this.g = g;
    this.boxes = boxes;
    if (!this.fitted && this.frame.isConnected) this.fit();
    else this.apply();
    // A view drawn before it is on the page fits once the browser has placed it.
    if (!this.fitted)
      requestAnimationFrame(() => {
        if (!this.fitted && this.frame.isConnected) this.fit();
      });
  }

  apply() {
    const { k, x, y } = this.view;
    if (this.g) this.g.setAttribute('transform', `translate(${x},${y}) scale(${k})`);
    replace(this.zoomLabel, `${Math.round(k * 100)}%`);
  }

  /**
   * Zoom so that the whole picture fits (never above 100%, never below the minimum zoom),
   * centred; a picture too wide even then is centred on its start box.
   */
  fit() {
    if (!this.picture) return;
    const w = this.frame.clientWidth || 800;
    const hgt = this.frame.clientHeight || 500;
    const { root, width, height } = this.picture;
    const k = Math.max(MIN, Math.min(1, w / width, hgt / height));
    const x = width * k <= w ? (w - width * k) / 2 : w / 2 - (root.x + root.width / 2) * k;
    this.view = { k, x, y: 0 };
    this.fitted = true;
    this.apply();
  }

  zoomBy(factor, cx = null, cy = null) {
    const { k, x, y } = this.view;
    const next = Math.max(MIN, Math.min(MAX, k * factor));
    const px = cx ?? (this.frame.clientWidth || 0) / 2;
    const py = cy ?? (this.frame.clientHeight || 0) / 2;
    // keep the point under (px, py) where it is
    this.view = { k: next, x: px - ((px - x) * next) / k, y: py - ((py - y) * next) / k };
    this.apply();
  }

  onWheel(ev) {
    ev.preventDefault();
    const r = this.svg.getBoundingClientRect();
    this.zoomBy(ev.deltaY < 0 ? 1.1 : 1 / 1.1, ev.clientX - r.left, ev.clientY - r.top);
  }

  onPan(ev) {
    if (ev.button !== 0 || ev.target.closest('.job, .task, .start')) return;
    const start = { cx: ev.clientX, cy: ev.clientY, x: this.view.x, y: this.view.y };
    this.svg.setPointerCapture(ev.pointerId);
    this.svg.classList.add('panning');
    const move = (e) => {
      this.view = { ...this.view, x: start.x + e.clientX - start.cx, y: start.y + e.clientY - start.cy };
      this.apply();
    };
    const up = () => {
      this.svg.classList.remove('panning');
      this.svg.removeEventListener('pointermove', move);
      this.svg.removeEventListener('pointerup', up);
    };
    this.svg.addEventListener('pointermove', move);
    this.svg.addEventListener('pointerup', up);
  }

  /** The model box and task index of an element inside the drawing, or null. */
  hit(el) {
    const g = el && el.closest ? el.closest('[data-ref]') : null;
    if (!g) return null;
    const [job, task] = g.getAttribute('data-ref').split('.').map(Number);
    const box = this.boxes[job];
    return box ? { ref: g.getAttribute('data-ref'), box, task: task === undefined ? null : box.tasks[task] } : null;
  }
}
