/**
 * Hash routes: '#/instances?workflow=hello&offset=30', '#/instance/42?node=node1'.
 *
 * Why the hash: the engine serves one index.html and the UI needs no server-side routes. Every
 * page state worth sharing (filters, page offset, an open instance) lives in the URL, so a link
 * pasted into a ticket shows the same thing (evQueue's dialogs had no URL, frontend.md §5).
 * Pages change their own query with replaceQuery(), which does not re-mount them.
 */

/** Split a location hash into a path and a query object. */
export function parseHash(hash) {
  const text = String(hash || '').replace(/^#/, '');
  const [rawPath, rawQuery = ''] = text.split('?', 2);
  const path = rawPath.startsWith('/') ? rawPath : `/${rawPath}`;
  const query = {};
  for (const [k, v] of new URLSearchParams(rawQuery)) query[k] = v;
  return { path, query };
}

/** The hash for a path and a query (empty values are left out). */
export function formatHash(path, query = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const q = params.toString();
  return `#${path}${q ? `?${q}` : ''}`;
}

/** Match '/instance/:id' against '/instance/42' -> {id: '42'}; null if it does not match. */
export function matchRoute(pattern, path) {
  const a = pattern.split('/').filter(Boolean);
  const b = path.split('/').filter(Boolean);
  if (a.length !== b.length) return null;
  const params = {};
  for (let i = 0; i < a.length; i += 1) {
    if (a[i].startsWith(':')) params[a[i].slice(1)] = decodeURIComponent(b[i]);
    else if (a[i] !== b[i]) return null;
  }
  return params;
}

export class Router {
  /**
   * @param {Array<{pattern: string, name: string}>} routes first match wins
   * @param {function(Object):void} onRoute called with {route, params, query, path}
   * @param {string} fallback path used for an unknown or empty hash
   */
  constructor(routes, onRoute, fallback) {
    this.routes = routes;
    this.onRoute = onRoute;
    this.fallback = fallback;
    this.guard = null; // () => boolean: false keeps the current page (unsaved changes)
    this.lastHash = null;
    this.listener = () => this.changed();
  }

  start() {
    window.addEventListener('hashchange', this.listener);
    this.changed();
  }

  stop() {
    window.removeEventListener('hashchange', this.listener);
  }

  /** The route matching the current hash (or null). */
  resolve(hash = window.location.hash) {
    const { path, query } = parseHash(hash);
    for (const route of this.routes) {
      const params = matchRoute(route.pattern, path);
      if (params) return { route, params, query, path };
    }
    return null;
  }

  changed() {
    const hash = window.location.hash;
    if (this.lastHash !== null && this.guard && !this.guard()) {
      history.replaceState(null, '', this.lastHash); // stay: put the old URL back
      return;
    }
    const match = this.resolve(hash);
    if (!match) {
      this.go(this.fallback);
      return;
    }
    this.lastHash = hash;
    this.guard = null;
    this.onRoute(match);
  }

  /** Navigate (re-mounts the page even when only the query differs). */
  go(path, query = {}) {
    const hash = formatHash(path, query);
    if (hash === window.location.hash) this.changed();
    else window.location.hash = hash;
  }

  /** Change the current page's query without re-mounting it. */
  replaceQuery(query) {
    const { path } = parseHash(window.location.hash);
    const hash = formatHash(path, query);
    history.replaceState(null, '', hash);
    this.lastHash = hash;
  }
}
