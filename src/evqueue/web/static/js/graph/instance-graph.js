/**
 * An instance drawn as its workflow graph, coloured by state (queued, running, succeeded,
 * failed, skipped, retrying, cancelled, waiting), with the progression of running tasks and
 * "iteration k/n" on loop clones. It is redrawn from every instance document the page
 * receives (pushed by the instance events); zoom and pan are kept across redraws.
 * A click (or Enter) on a task selects it by evqid: the caller shows its inputs and output.
 */

import { h } from '../ui.js';
import { flatten } from './layout.js';
import { workflowPicture } from './model.js';
import { STATE_ICONS } from './render.js';
import { GraphView } from './viewport.js';

const LEGEND = ['queued', 'running', 'succeeded', 'failed', 'retrying', 'skipped', 'cancelled', 'waiting'];

export class InstanceGraph {
  /** @param {{onSelect: function(string): void}} options onSelect gets a task's evqid */
  constructor({ onSelect }) {
    this.view = new GraphView({ testid: 'instance-graph', height: '55vh' });
    const legend = h(
      'p',
      { class: 'graph-legend note' },
      LEGEND.map((s) => h('span', { class: `state-${s}` }, `${STATE_ICONS[s]} ${s}`)),
    );
    this.el = h('div', { class: 'instance-graph' }, legend, this.view.el);
    const pick = (target) => {
      const hit = this.view.hit(target);
      if (hit && hit.task) onSelect(hit.task.el.getAttribute('evqid'));
    };
    this.view.svg.addEventListener('click', (ev) => pick(ev.target));
    this.view.svg.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        pick(ev.target);
      }
    });
  }

  /** Draw the instance <workflow>; selected is the evqid of the selected task. */
  draw(workflow, selected) {
    const picture = workflowPicture(workflow, { live: true });
    let ref = '';
    flatten(picture.root)
      .filter((b) => b.kind === 'job')
      .forEach((box, i) =>
        box.tasks.forEach((t, j) => {
          if (selected && t.el.getAttribute('evqid') === selected) ref = `${i}.${j}`;
        }),
      );
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('[data-ref]');
    const keep = focused && this.view.svg.contains(focused) ? focused.getAttribute('data-ref') : '';
    this.view.draw(picture, ref);
    if (keep) {
      const again = this.view.svg.querySelector(`[data-ref="${keep}"]`);
      if (again) again.focus();
    }
    return this.el;
  }
}
