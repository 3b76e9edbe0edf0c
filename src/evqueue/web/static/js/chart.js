/**
 * Small SVG charts (no library): stacked bars over a category axis.
 * The SVG carries role="img" and an aria-label summary; every bar has a <title> tooltip.
 */

const NS = 'http://www.w3.org/2000/svg';

export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

function el(tag, attrs = {}, text = null) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== null) e.textContent = text;
  return e;
}

/** A "nice" axis maximum and tick step for a maximum count (whole steps: no 0.5 instance). */
export function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { max: 1, step: 1 };
  const raw = max / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw));
  return { max: Math.ceil(max / step) * step, step };
}

/**
 * Stacked bar chart.
 * @param {Object} o
 * @param {string[]} o.labels category labels (x axis)
 * @param {Array<{label: string, values: number[], color?: string}>} o.series stacked bottom-up
 * @param {string} o.title accessible summary
 * @param {function(string):string} [o.short] shortens a label for the axis
 * @returns {SVGSVGElement}
 */
export function stackedBars({ labels, series, title, width = 900, height = 260, short = (l) => l }) {
  const pad = { left: 44, right: 12, top: 12, bottom: 40 };
  const w = width - pad.left - pad.right;
  const hgt = height - pad.top - pad.bottom;
  const totals = labels.map((_, i) => series.reduce((a, s) => a + (s.values[i] || 0), 0));
  const { max, step } = niceScale(Math.max(0, ...totals));
  const svg = el('svg', {
    class: 'chart',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': title,
  });
  svg.append(el('title', {}, title));
  const y = (v) => pad.top + hgt - (v / max) * hgt;
  for (let v = 0; v <= max; v += step) {
    svg.append(el('line', { class: 'axis', x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }));
    svg.append(el('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
  }
  const band = w / Math.max(1, labels.length);
  const barW = Math.max(1, band * 0.75);
  // Leave ~70 px per written label so they never overlap; bars keep their tooltips.
  const every = Math.max(1, Math.ceil(labels.length / Math.max(1, Math.floor(w / 70))));
  labels.forEach((label, i) => {
    const x = pad.left + i * band + (band - barW) / 2;
    let base = 0;
    series.forEach((s, k) => {
      const v = s.values[i] || 0;
      if (!v) return;
      const rect = el('rect', {
        x,
        y: y(base + v),
        width: barW,
        height: Math.max(0.5, (v / max) * hgt),
        fill: s.color || PALETTE[k % PALETTE.length],
      });
      rect.append(el('title', {}, `${label} — ${s.label}: ${v}`));
      svg.append(rect);
      base += v;
    });
    if (i % every === 0)
      svg.append(
        el('text', { x: x + barW / 2, y: height - pad.bottom + 16, 'text-anchor': 'middle' }, short(label)),
      );
  });
  return svg;
}
