/**
 * Tidy tree layout of a workflow: a workflow is a tree of jobs (sub-jobs run after their
 * parent, siblings in parallel), so a layered tree layout draws it without crossings.
 *
 * Rules:
 * - every depth is one row, as tall as its tallest box: parallel siblings sit side by side
 *   at the same height and a sub-job is always below its parent;
 * - subtrees are packed by their contours (Reingold–Tilford): a subtree moves left as far as
 *   its boxes stay `gap` apart from the subtrees before it at every depth, so a wide branch
 *   does not push unrelated boxes far away;
 * - a parent is centred over its first and last child.
 * The cost is O(n × depth); pure functions over plain objects, no DOM.
 */

/**
 * Lay out a tree of {width, height, children}. Sets x, y (top-left corner) on every node.
 *
 * @param {Object} root the root node
 * @param {{gap?: number, rowGap?: number, margin?: number}} options spacing in pixels
 * @returns {{width: number, height: number}} the size of the whole drawing
 */
export function layoutTree(root, { gap = 24, rowGap = 44, margin = 16 } = {}) {
  const rows = [];
  const rel = new Map(); // node -> x of its centre relative to its parent's centre
  const walk = (node, depth) => {
    rows[depth] = Math.max(rows[depth] || 0, node.height);
    const kids = node.children || [];
    if (!kids.length) return { left: [-node.width / 2], right: [node.width / 2] };
    const left = [];
    const right = [];
    const shifts = [];
    kids.forEach((kid, i) => {
      const c = walk(kid, depth + 1);
      let shift = 0;
      if (i > 0) {
        shift = -Infinity;
        const common = Math.min(right.length, c.left.length);
        for (let d = 0; d < common; d += 1) shift = Math.max(shift, right[d] - c.left[d] + gap);
      }
      shifts.push(shift);
      for (let d = 0; d < c.left.length; d += 1) {
        if (d >= left.length) left.push(c.left[d] + shift);
        right[d] = c.right[d] + shift;
      }
    });
    const mid = (shifts[0] + shifts[shifts.length - 1]) / 2;
    kids.forEach((kid, i) => rel.set(kid, shifts[i] - mid));
    return {
      left: [-node.width / 2, ...left.map((v) => v - mid)],
      right: [node.width / 2, ...right.map((v) => v - mid)],
    };
  };
  const contour = walk(root, 0);
  const rowY = [];
  rows.reduce((y, height, d) => {
    rowY[d] = y;
    return y + height + rowGap;
  }, margin);
  const minLeft = Math.min(...contour.left);
  const place = (node, centre, depth) => {
    node.x = centre - node.width / 2;
    node.y = rowY[depth];
    for (const kid of node.children || []) place(kid, centre + rel.get(kid), depth + 1);
  };
  place(root, margin - minLeft, 0);
  const width = Math.max(...contour.right) - minLeft + 2 * margin;
  const height = rowY[rows.length - 1] + rows[rows.length - 1] + margin;
  return { width, height };
}

/** Every node of a tree, parents first. */
export function flatten(root) {
  const out = [];
  const visit = (node) => {
    out.push(node);
    for (const kid of node.children || []) visit(kid);
  };
  visit(root);
  return out;
}
