/**
 * What the storage pages compute, without the DOM: variable values between the engine's JSON
 * and the editor's text, variable paths, and the items a display shows.
 *
 * Rules (protocol.md §4.5, frontend.md §2.16):
 * - A variable has a type (INT, STRING, BOOLEAN) and a structure (NONE, ARRAY, MAP); its value
 *   is JSON of that shape. An unstructured value is edited as plain text (a string needs no
 *   quotes); an ARRAY or a MAP as JSON. Values are checked here so that a typing mistake is
 *   explained in words before the engine answers "Invalid json".
 * - A variable is named by its full path, "path/name" (what displays and launchers refer to).
 * - A display shows the items of an ARRAY or MAP variable: for a MAP each entry (key, value), for
 *   an ARRAY each item as both key and value (as evQueue's UI does), reversed for order DESC.
 *   In its title and content, $key and $value are the item's, {path} is the value of another
 *   unstructured variable and {path}.key an entry of a MAP variable; anything that does not
 *   resolve stays as written. The result is plain text, never markup.
 */

export const TYPES = ['STRING', 'INT', 'BOOLEAN'];
export const STRUCTURES = ['NONE', 'ARRAY', 'MAP'];

const SHAPES = { ARRAY: 'an array, e.g. ["a", "b"]', MAP: 'an object, e.g. {"key": "value"}' };
const ITEM_WORDS = { INT: 'an integer', STRING: 'a string', BOOLEAN: 'true or false' };

/** The full path of a variable: "path/name". */
export function fullPath(v) {
  return `${v.path}/${v.name}`;
}

/** The editor's text for a stored value (JSON text) of this structure. */
export function editorText(structure, valueJson) {
  if (valueJson === undefined || valueJson === null || valueJson === '') {
    return { NONE: '', ARRAY: '[]', MAP: '{}' }[structure] ?? '';
  }
  const value = JSON.parse(valueJson);
  if (structure === 'NONE') return typeof value === 'string' ? value : JSON.stringify(value);
  return JSON.stringify(value, null, 2);
}

function itemOk(type, item) {
  if (type === 'INT') return Number.isInteger(item);
  if (type === 'BOOLEAN') return typeof item === 'boolean';
  return typeof item === 'string';
}

/**
 * The JSON text to store for what the editor holds; throws an Error saying what is wrong.
 * @param {string} type INT, STRING or BOOLEAN
 * @param {string} structure NONE, ARRAY or MAP
 * @param {string} text the editor's text
 */
export function valueJson(type, structure, text) {
  if (structure === 'NONE') {
    if (type === 'STRING') return JSON.stringify(text);
    const t = text.trim();
    if (type === 'INT') {
      if (!/^-?\d+$/.test(t)) throw new Error('The value must be an integer.');
      return t.replace(/^(-?)0+(?=\d)/, '$1');
    }
    if (t !== 'true' && t !== 'false') throw new Error('The value must be true or false.');
    return t;
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`The value is not JSON: ${e.message}`);
  }
  const isArray = Array.isArray(value);
  if (structure === 'ARRAY' ? !isArray : isArray || value === null || typeof value !== 'object') {
    throw new Error(`The value must be ${SHAPES[structure]}.`);
  }
  const items = isArray ? value : Object.values(value);
  if (!items.every((item) => itemOk(type, item))) {
    throw new Error(`Every item must be ${ITEM_WORDS[type]} (type ${type}).`);
  }
  return JSON.stringify(value);
}

/** A value for a list: the text of a string, the JSON of anything else, cut at `max`. */
export function shortValue(valueJson, max = 80) {
  let text = valueJson;
  try {
    const value = JSON.parse(valueJson);
    if (typeof value === 'string') text = value;
  } catch {
    // shown as stored
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Variables (with `path`, `name`, `value` JSON text) by full path, values parsed. */
export function valuesByPath(variables) {
  const out = new Map();
  for (const v of variables) {
    try {
      out.set(fullPath(v), JSON.parse(v.value));
    } catch {
      // an unreadable value resolves to nothing
    }
  }
  return out;
}

/** The items a display shows: [{key, value}] from the variable's parsed value. */
export function displayItems(value, order = 'ASC') {
  let items = [];
  if (Array.isArray(value)) items = value.map((v) => ({ key: v, value: v }));
  else if (value && typeof value === 'object') {
    items = Object.entries(value).map(([key, v]) => ({ key, value: v }));
  }
  return order === 'DESC' ? items.reverse() : items;
}

const text = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
const REFERENCE = /\{([\p{L}\d_/-]+)\}(?:\.([\p{L}\d_/]+))?/gu;

/**
 * A display's title or content for one item.
 * @param {string} template with $key, $value, {path}, {path}.key
 * @param {{key: *, value: *}} item
 * @param {Map<string, *>} values parsed variable values by full path (valuesByPath)
 */
export function renderTemplate(template, item, values = new Map()) {
  const filled = template.replaceAll('$key', text(item.key)).replaceAll('$value', text(item.value));
  return filled.replace(REFERENCE, (match, path, key) => {
    if (!values.has(path)) return match;
    const value = values.get(path);
    const structured = value !== null && typeof value === 'object';
    if (key === undefined) return structured ? match : text(value);
    if (!structured || Array.isArray(value) || !(key in value)) return match;
    return text(value[key]);
  });
}
