/**
 * Instances page: what runs now (live, every node) above the filtered, paged history.
 * Clicking a row opens the instance details overlay (app.openInstance).
 */

import { h } from '../ui.js';
import { executingPanel } from './instances-executing.js';
import { terminatedPanel } from './instances-terminated.js';

/** @param {Object} ctx page context (see app.js) */
export function mount(ctx) {
  ctx.el.append(h('h1', { class: 'sr-only' }, 'Instances'), executingPanel(ctx), terminatedPanel(ctx));
}
