/**
 * The workflow file the editor downloads: evQueue's shape, the definition wrapped in
 * <workflow name group comment>…</workflow>, the same file "Upload XML" reads back.
 */

import { h } from '../ui.js';
import { escapeXml } from '../wire.js';

/** Save the definition text as NAME.xml through the browser. */
export function downloadWorkflow(name, group, comment, text) {
  const file = `<workflow name="${escapeXml(name)}" group="${escapeXml(group)}" comment="${escapeXml(comment)}">\n${text}\n</workflow>\n`;
  const a = h('a', {
    href: URL.createObjectURL(new Blob([file], { type: 'application/xml' })),
    download: `${name || 'workflow'}.xml`,
  });
  document.body.append(a);
  a.click();
  a.remove();
}
