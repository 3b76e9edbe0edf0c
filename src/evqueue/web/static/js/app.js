/**
 * Entry point: opens the session, draws the shell (header, navigation, cluster banner) and
 * mounts one page per route.
 *
 * Rules:
 * - Each mounted page gets a fresh Scope; leaving the page disposes it, which closes the
 *   page's event subscriptions, timers and dialogs.
 * - The instance details dialog is an overlay addressed by the query keys `instance` and
 *   `inode` of any page ('#/instances?instance=42&inode=node1'), so it has a URL that can be
 *   shared, and '#/instance/42' redirects there.
 * - Keyboard: '/' focuses the page's filter box; Esc closes dialogs (native <dialog>).
 * - Down nodes are shown in a banner, not hidden (frontend.md §5: no silent staleness).
 * - The menu follows the profile (ADMIN-only entries are left out for a USER) and the engine:
 *   the section of an optional module (Storage) shows only while every node announces it.
 */

import { AuthError, State } from './connection.js';
import { formatHash } from './router.js';
import { Router } from './router.js';
import { Scope } from './scope.js';
import { Session, storedCredentials } from './session.js';
import { sha1Hex } from './sha1.js';
import { button, h, replace, showError } from './ui.js';
import { openInstanceDetails } from './pages/instance-details.js';
import { openLaunchDialog } from './pages/launch.js';
import { openPreferences } from './pages/preferences.js';
import { ROUTES } from './routes.js';

const NAV = [
  [
    'Operate',
    [
      ['instances', 'Instances', '/instances'],
      ['workflows', 'Workflows', '/workflows'],
      ['schedules', 'Schedules', '/schedules', true],
      ['nodes', 'Nodes', '/nodes'],
    ],
  ],
  [
    'Settings',
    [
      ['queues', 'Queues', '/queues'],
      ['retry-schedules', 'Retry schedules', '/retry-schedules'],
      ['notifications', 'Notifications', '/notifications', true],
      ['users', 'Users', '/users', true],
    ],
  ],
  [
    'Storage',
    [
      ['variables', 'Variables', '/variables'],
      ['launchers', 'Launchers', '/launchers'],
      ['displays', 'Displays', '/displays'],
    ],
    'storage',
  ],
  [
    'Observe',
    [
      ['logs-engine', 'Engine logs', '/logs/engine'],
      ['logs-api', 'API logs', '/logs/api'],
      ['logs-notifications', 'Notification logs', '/logs/notifications'],
      ['statistics', 'Statistics', '/statistics'],
      ['configuration', 'Configuration', '/configuration', true],
    ],
  ],
];

const OVERLAY_KEYS = ['instance', 'inode'];

class App {
  constructor(root) {
    this.root = root;
    this.session = new Session();
    this.router = new Router(ROUTES, (m) => this.route(m), '/instances');
    this.pageScope = null;
    this.shell = null;
    this.query = {};
    this.instanceDialog = null;
    this.reported = new Set(); // live-data failures already shown
  }

  async boot() {
    try {
      const creds = storedCredentials();
      if (creds) await this.session.open(creds.user, creds.passwordHash);
      else await this.session.probe();
    } catch (e) {
      if (!(e instanceof AuthError)) {
        this.fatal(e);
        return;
      }
      this.session.logout(); // stored credentials no longer valid: ask again
    }
    this.root.removeAttribute('aria-busy');
    this.router.start();
    document.addEventListener('keydown', (ev) => this.shortcut(ev));
  }

  fatal(e) {
    this.root.removeAttribute('aria-busy');
    replace(
      this.root,
      h(
        'div',
        { class: 'fatal', testid: 'fatal-error' },
        h('h1', {}, 'Cannot reach the evQueue engine'),
        h('p', {}, e.message || String(e)),
        button('Retry', () => window.location.reload(), { kind: 'primary' }),
      ),
    );
  }

  get loggedIn() {
    return Boolean(this.session.cluster);
  }

  /** Log in with a user and a clear password (hashed here, never stored in clear). */
  async login(user, password) {
    await this.session.open(user, sha1Hex(password));
    const next = this.router.resolve(`#${this.query.next || '/instances'}`);
    this.router.go(next && !next.route.public ? next.path : '/instances', next ? next.query : {});
  }

  logout() {
    this.disposePage();
    this.session.logout();
    this.shell = null;
    this.router.go('/login');
  }

  route(match) {
    const { route, params, query } = match;
    if (route.redirect) {
      this.router.go(...route.redirect(params, query));
      return;
    }
    if (!route.public && !this.loggedIn) {
      this.router.go('/login', { next: formatHash(match.path, query).slice(1) });
      return;
    }
    if (route.public && this.loggedIn) {
      this.router.go('/instances');
      return;
    }
    this.disposePage();
    this.query = query;
    this.pageScope = new Scope();
    let container = this.root;
    if (route.public) {
      this.shell = null;
    } else {
      if (!this.shell) this.drawShell();
      container = this.shell.main;
      this.markNav(route.nav || (route.navFrom && route.navFrom(params)));
    }
    replace(container);
    document.title = `${route.title} · evQueue`;
    const ctx = this.context(container, params, query);
    if (route.admin && !this.session.isAdmin) {
      container.append(h('p', { class: 'note error' }, 'This page needs the ADMIN profile.'));
      return;
    }
    if (route.module && !this.session.cluster.announces(route.module)) {
      container.append(h('p', { class: 'note error' }, `Every node needs the ${route.module} module.`));
      return;
    }
    try {
      const page = route.page.mount(ctx) || {};
      if (page.canLeave) this.router.guard = page.canLeave;
    } catch (e) {
      showError(e, 'Page failed');
    }
    if (query.instance && !route.public) this.openInstance(query.instance, query.inode);
  }

  context(el, params, query) {
    return {
      el,
      params,
      query,
      app: this,
      scope: this.pageScope,
      session: this.session,
      cluster: this.session.cluster,
      router: this.router,
      setQuery: (q) => this.setQuery(q),
    };
  }

  /** Replace the page's own query keys, keeping the overlay keys. */
  setQuery(q) {
    const keep = Object.fromEntries(OVERLAY_KEYS.filter((k) => this.query[k]).map((k) => [k, this.query[k]]));
    this.query = { ...q, ...keep };
    this.router.replaceQuery(this.query);
  }

  disposePage() {
    if (this.pageScope) this.pageScope.dispose();
    this.pageScope = null;
    this.router.guard = null;
  }

  /** Open the details of an instance (on the node that runs it, when known). */
  openInstance(id, node = '') {
    if (!this.pageScope) return;
    if (this.instanceDialog) this.instanceDialog.close();
    this.query = { ...this.query, instance: id, inode: node || undefined };
    this.router.replaceQuery(this.query);
    const scope = this.pageScope.child();
    this.instanceDialog = openInstanceDetails({
      ...this.context(this.shell ? this.shell.main : this.root, {}, this.query),
      scope,
      id: String(id),
      node,
      onClose: () => {
        scope.dispose();
        this.instanceDialog = null;
        const { instance, inode, ...rest } = this.query;
        this.query = rest;
        if (this.pageScope) this.router.replaceQuery(rest);
      },
    });
  }

  /** Open the launch dialog; preset: {workflowId, name, parameters, user, host, comment, node}. */
  openLaunch(preset = {}) {
    openLaunchDialog({ app: this, session: this.session, cluster: this.session.cluster, preset });
  }

  drawShell() {
    const main = h('main', { id: 'main', class: 'main', tabIndex: -1, testid: 'main' });
    const nav = h('nav', { class: 'sidebar', 'aria-label': 'Main menu' });
    const admin = this.session.isAdmin;
    for (const [section, items, module] of NAV) {
      const mod = module ? { module } : undefined;
      const links = items
        .filter(([, , , needsAdmin]) => admin || !needsAdmin)
        .map(([id, label, path]) =>
          h('li', {}, h('a', { href: formatHash(path), testid: `nav-${id}`, dataset: { nav: id } }, label)),
        );
      nav.append(h('h2', { dataset: mod }, section), h('ul', { dataset: mod }, links));
    }
    const status = h('a', { href: '#/nodes', class: 'cluster-status', testid: 'cluster-status' });
    const banner = h('div', {
      class: 'cluster-banner',
      role: 'alert',
      testid: 'cluster-banner',
      hidden: true,
    });
    const env = h('span', { class: 'env', testid: 'env-name' });
    const userBox = h(
      'div',
      { class: 'userbox' },
      h(
        'span',
        { class: 'user', testid: 'current-user', title: `profile ${this.session.profile}` },
        this.session.user,
      ),
      button('Preferences', () => openPreferences({ app: this, session: this.session }), {
        kind: 'ghost',
        testid: 'preferences-button',
      }),
      this.session.authDisabled
        ? null
        : button('Log out', () => this.logout(), { kind: 'ghost', testid: 'logout-button' }),
    );
    const skip = button('Skip to content', () => main.focus(), { kind: 'skip-link' });
    const header = h(
      'header',
      { class: 'topbar' },
      skip,
      h('a', { href: '#/instances', class: 'brand' }, 'evQueue'),
      env,
      status,
      userBox,
    );
    replace(this.root, header, banner, h('div', { class: 'layout' }, nav, main));
    this.shell = { main, nav, status, banner, env, header };
    const update = () => this.updateStatus();
    this.session.cluster.onSubscriptionError = (e, node, command) => this.liveError(e, node, command);
    this.session.cluster.onChange(update);
    this.session.onChange(update);
    update();
  }

  /** A live view's command was refused: say so once per command and message, not on every push. */
  liveError(e, node, command) {
    const key = `${command}|${e.message}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    const what = (/^<(\w+)[^>]*?action="(\w+)"/.exec(command) || []).slice(1).join(' ') || command;
    showError(e, `Live data not available (${what}, node ${node})`);
  }

  markNav(id) {
    for (const a of this.shell.nav.querySelectorAll('a')) {
      if (a.dataset.nav === id) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  updateStatus() {
    if (!this.shell || !this.session.cluster) return;
    for (const el of this.shell.nav.querySelectorAll('[data-module]')) {
      el.hidden = !this.session.cluster.announces(el.dataset.module);
    }
    const { preferences } = this.session;
    document.documentElement.style.setProperty('--env-color', preferences.env_color || 'transparent');
    replace(this.shell.env, preferences.env_name || '');
    this.shell.env.hidden = !preferences.env_name;
    const all = this.session.cluster.nodes;
    const down = all.filter((n) => n.state !== State.READY && n.state !== State.CONNECTING);
    const up = all.filter((n) => n.state === State.READY).length;
    replace(
      this.shell.status,
      `${up} node${up === 1 ? '' : 's'} up`,
      down.length ? ` · ${down.length} down` : '',
    );
    this.shell.status.classList.toggle('bad', down.length > 0);
    this.shell.banner.hidden = down.length === 0;
    replace(
      this.shell.banner,
      down.length
        ? [
            h('strong', {}, 'Unreachable: '),
            down.map((n, i) => [
              i ? ', ' : '',
              `${n.name || n.url}${n.error ? ` (${n.error.message})` : ''}`,
            ]),
            ' — data from these nodes is missing or stale.',
          ]
        : [],
    );
  }

  shortcut(ev) {
    if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t.closest && t.closest('input, textarea, select, [contenteditable]')) return;
    const open = document.querySelector('dialog[open]');
    const filter = (open || document).querySelector('[data-role="filter"]');
    if (filter) {
      ev.preventDefault();
      filter.focus();
      filter.select && filter.select();
    }
  }
}

const app = new App(document.getElementById('app'));
app.boot();
