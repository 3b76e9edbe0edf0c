/**
 * The XML wire format of evQueue's API (protocol.md §3): building commands, base64 of UTF-8
 * text, parsing replies and turning KO replies into errors.
 *
 * Rules kept here:
 * - Commands are built as strings with every attribute escaped, so any user input (quotes,
 *   `<`, newlines, non-Latin-1 text) gives valid XML. Attributes whose value is undefined, null
 *   or '' are left out: the engine treats a missing attribute as "no filter", and evQueue's UI
 *   sending empty ones caused its "filters always shown" quirk (frontend.md §6.10).
 * - base64 is always of the UTF-8 bytes (evQueue's UI used btoa() on raw text, which throws on
 *   'é'; frontend.md §6.4).
 * - Parsing uses DOMParser and is only called in the browser; the pure helpers above it also
 *   run under Node for the tests.
 */

/** Escape text for use inside a double-quoted XML attribute or as element text. */
export function escapeXml(value) {
  return String(value).replace(
    /[&<>"'\n\r\t]/g,
    (c) =>
      ({
        '&': '&amp;',
        '<': '&lt;',
        '>': '&gt;',
        '"': '&quot;',
        "'": '&apos;',
        // Attribute-value normalisation would turn raw newlines and tabs into spaces.
        '\n': '&#10;',
        '\r': '&#13;',
        '\t': '&#9;',
      })[c],
  );
}

function attrText(value) {
  if (value === true) return 'yes';
  if (value === false) return 'no';
  return String(value);
}

/**
 * Build one API command: `<group action="…" k="v"…><parameter name value/>…</group>`.
 *
 * @param {string} group root element name (the command group)
 * @param {Object<string, *>} attributes in insertion order; booleans become yes/no
 * @param {Array<[string, string]>|Object<string,string>} parameters `<parameter>` children
 * @param {string[]} keepEmpty attributes sent even when '' (a cleared comment must be saved)
 * @returns {string}
 */
export function buildCommand(group, attributes = {}, parameters = [], keepEmpty = []) {
  let out = `<${group}`;
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || (value === '' && !keepEmpty.includes(name))) continue;
    out += ` ${name}="${escapeXml(attrText(value))}"`;
  }
  const params = Array.isArray(parameters) ? parameters : Object.entries(parameters);
  if (params.length === 0) return `${out}/>`;
  out += '>';
  for (const [name, value] of params) {
    out += `<parameter name="${escapeXml(name)}" value="${escapeXml(value ?? '')}"/>`;
  }
  return `${out}</${group}>`;
}

/** base64 of bytes. */
export function base64FromBytes(bytes) {
  let binary = '';
  const CHUNK = 0x8000; // String.fromCharCode has an argument-count limit
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/** Bytes of a base64 string (whitespace ignored). */
export function bytesFromBase64(text) {
  const binary = atob(String(text).replace(/\s+/g, ''));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) out[i] = binary.charCodeAt(i);
  return out;
}

/** base64 of a string's UTF-8 bytes (what `content=`, `api_cmd=`, `parameters=` expect). */
export function base64Encode(text) {
  return base64FromBytes(new TextEncoder().encode(String(text)));
}

/** The string whose UTF-8 bytes a base64 value holds. */
export function base64Decode(text) {
  return new TextDecoder().decode(bytesFromBase64(text));
}

/** An error reply of the engine: `<response status="KO" error="…" error-code="…"/>`. */
export class EngineError extends Error {
  constructor(message, code = '', node = '') {
    super(message);
    this.name = 'EngineError';
    this.code = code;
    this.node = node;
  }

  /** The sentence shown to the user, with the code when the engine gave one. */
  describe() {
    const where = this.node ? ` on ${this.node}` : '';
    return this.code
      ? `${this.message} (${this.code}${where})`
      : `${this.message}${where ? ` (${where.trim()})` : ''}`;
  }
}

/** A document that is not well-formed XML; `line` is 1-based when the parser told us. */
export class XmlSyntaxError extends Error {
  constructor(message, line = null) {
    super(message);
    this.name = 'XmlSyntaxError';
    this.line = line;
  }
}

/** First line number mentioned in an error message ("line 12", "line: 12", ":12:"), or null. */
export function lineFromMessage(message) {
  const m = /line[^0-9]{0,3}(\d+)/i.exec(String(message));
  return m ? Number(m[1]) : null;
}

/** Parse XML text into a Document; throws XmlSyntaxError (browser only: uses DOMParser). */
export function parseXml(text) {
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  const err = doc.getElementsByTagName('parsererror')[0];
  if (err) {
    // Chromium wraps the parser's words in page-rendering prose: keep the parser's words only.
    const message = err.textContent
      .replace(/\s+/g, ' ')
      .replace(/^.*?following errors?:\s*/i, '')
      .replace(/\s*Below is a rendering of the page.*$/i, '')
      .trim();
    throw new XmlSyntaxError(message, lineFromMessage(message));
  }
  return doc;
}

/** Throw EngineError if a parsed reply is KO; return the root element otherwise. */
export function checkResponse(root) {
  if (root.getAttribute('status') === 'KO' || root.hasAttribute('error')) {
    throw new EngineError(
      root.getAttribute('error') || 'Unknown error',
      root.getAttribute('error-code') || '',
      root.getAttribute('node') || '',
    );
  }
  return root;
}

/** Attributes of an element as a plain object. */
export function attrsOf(el) {
  const out = {};
  if (!el) return out;
  for (const a of el.attributes) out[a.name] = a.value;
  return out;
}

/** Child elements of el, optionally only those named `name`. */
export function childElements(el, name = null) {
  if (!el) return [];
  return Array.from(el.children).filter((c) => name === null || c.nodeName === name);
}

/** First child element named `name` (or null). */
export function child(el, name) {
  return childElements(el, name)[0] || null;
}

/** Serialize a DOM node to text. */
export function serializeXml(node) {
  return new XMLSerializer().serializeToString(node);
}

function hasText(el) {
  return Array.from(el.childNodes).some(
    (n) => (n.nodeType === 3 || n.nodeType === 4) && n.nodeValue.trim() !== '',
  );
}

function prettyNode(node, depth, out, inline) {
  const indent = '  '.repeat(depth);
  if (node.nodeType === 8) {
    out.push(`${indent}<!--${node.nodeValue}-->`);
    return;
  }
  if (node.nodeType !== 1) {
    if (node.nodeValue.trim() !== '') out.push(indent + escapeXml(node.nodeValue.trim()));
    return;
  }
  const elems = Array.from(node.childNodes).filter((n) => n.nodeType === 1 || n.nodeType === 8);
  // Mixed content (text beside elements, or an element whose text is data) stays on one line:
  // indentation added there would become part of the value.
  if (inline.has(node.nodeName) || hasText(node) || elems.length === 0) {
    out.push(indent + serializeXml(node));
    return;
  }
  const shallow = serializeXml(node.cloneNode(false));
  const open = shallow.endsWith('/>') ? `${shallow.slice(0, -2)}>` : shallow.replace(/<\/[^>]+>$/, '');
  out.push(indent + open);
  for (const c of elems) prettyNode(c, depth + 1, out, inline);
  out.push(`${indent}</${node.nodeName}>`);
}

/**
 * Indented text of an XML node or document. Elements named in `inline` (and any element that
 * holds text) are written on one line, unchanged.
 */
export function prettyXml(node, inline = new Set()) {
  const root = node.nodeType === 9 ? node.documentElement : node;
  const out = [];
  prettyNode(root, 0, out, inline);
  return out.join('\n');
}
