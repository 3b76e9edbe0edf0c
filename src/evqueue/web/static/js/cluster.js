/**
 * The cluster as the browser sees it: one entry per engine node, each with a lazily opened
 * `api` socket and an always-open `events` socket, plus routing of API calls.
 *
 * Rules:
 * - The node that served this page is asked for the node list with `<cluster action="list"/>`
 *   (rows `<node name api ws version started heartbeat/>`). An engine without that command
 *   (UNKNOWN_COMMAND, e.g. evQueue itself) gives a one-node cluster: the current node.
 * - A node is "up" while its events socket is READY. A dropped events socket is reopened every
 *   5 s; a refused login is not retried (the same password would be refused again).
 * - api(cmd) without a node goes to the first up node, this page's node first, and fails over
 *   to the next on a connection error (never on an engine error: that is an answer).
 * - apiAll(cmd) asks every node and never rejects: each result carries its node and either a
 *   root or an error, so one node down does not blank a page (frontend.md §6.2).
 * - State changes are announced through onChange(); subscriptions re-bind themselves on them.
 */

import { AuthError, ConnectionError, NodeConnection, State } from './connection.js';
import { Subscription, EventChannel } from './events.js';
import { clockOffset } from './format.js';
import { attrsOf, buildCommand, childElements, EngineError } from './wire.js';

const RECONNECT_MS = 5000;

/** ws:// URL of the node that served this page. */
export function selfUrl(loc = window.location) {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/`;
}

/**
 * A node's websocket URL as the browser must use it: a wildcard bind address (0.0.0.0, ::, *)
 * is replaced by the host name this page was loaded from.
 */
export function reachableUrl(ws, pageHost) {
  let url = String(ws || '').trim();
  if (!url) return '';
  if (!/^wss?:\/\//.test(url)) url = `ws://${url}`;
  const m = /^(wss?:\/\/)(\[[^\]]*\]|[^/:]*)(.*)$/.exec(url);
  if (!m) return url;
  const wildcard = ['', '0.0.0.0', '*', '[::]', '::'].includes(m[2]);
  const rest = m[3] || '';
  return `${m[1]}${wildcard ? pageHost : m[2]}${rest.includes('/') ? rest : `${rest}/`}`;
}

export class Cluster {
  /**
   * @param {Object} o
   * @param {string} o.url websocket URL of this page's node
   * @param {string} o.user
   * @param {string|null} o.passwordHash hex SHA-1, or null to only probe (auth disabled?)
   */
  constructor({ url, user, passwordHash }) {
    this.url = url;
    this.user = user;
    this.passwordHash = passwordHash;
    this.nodes = [];
    this.listeners = new Set();
    this.lastExternalId = 0;
    this.self = null;
    this.greeting = null;
    this.closed = false;
    // Where subscription failures without a handler of their own go (the app shows them).
    this.onSubscriptionError = (e, node, command) => console.warn(`${command} failed on ${node}`, e);
  }

  /** Report a failed subscription reply (the engine refused the command it runs). */
  reportError(error, node, command) {
    this.onSubscriptionError(error, node, command);
  }

  nextExternalId() {
    this.lastExternalId += 1;
    return this.lastExternalId;
  }

  /** Call fn() after every node change; returns the function that stops it. */
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit() {
    for (const fn of [...this.listeners]) {
      try {
        fn(this);
      } catch (e) {
        console.error(e);
      }
    }
  }

  makeNode(name, url) {
    const node = {
      name,
      url,
      info: {},
      state: State.DISCONNECTED,
      greeting: null,
      error: null,
      offset: 0,
      timer: null,
    };
    const common = { url, user: this.user, passwordHash: this.passwordHash };
    node.api = new NodeConnection({ ...common, protocol: 'api' });
    node.events = new NodeConnection({
      ...common,
      protocol: 'events',
      onState: (state) => {
        node.state = state;
        this.emit();
      },
    });
    node.channel = new EventChannel(node.events);
    return node;
  }

  /** Log in on this page's node, find the others, open every events socket. */
  async start() {
    const self = this.makeNode('', this.url);
    this.greeting = await self.api.connect();
    self.name = this.greeting.node;
    self.greeting = this.greeting;
    this.self = self;
    this.nodes = [self];
    await this.discover();
    for (const node of this.nodes) this.openEvents(node);
    return this.greeting;
  }

  /** Ask this page's node for the node list and add the nodes not known yet. */
  async discover() {
    let root;
    try {
      root = await this.self.api.request(buildCommand('cluster', { action: 'list' }));
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
      return; // no cluster command: a one-node view
    }
    const host = new URL(this.url.replace(/^ws/, 'http')).host;
    for (const row of childElements(root, 'node')) {
      const info = attrsOf(row);
      let node = this.node(info.name);
      if (!node) {
        node = this.makeNode(info.name, reachableUrl(info.ws, host));
        this.nodes.push(node);
        if (this.self.events.state !== State.DISCONNECTED) this.openEvents(node);
      }
      node.info = info;
    }
    const rest = this.nodes.filter((n) => n !== this.self).sort((a, b) => a.name.localeCompare(b.name));
    this.nodes = [this.self, ...rest];
    this.emit();
  }

  openEvents(node) {
    if (this.closed || !node.url) return;
    clearTimeout(node.timer);
    node.events
      .connect()
      .then((greeting) => {
        node.greeting = greeting;
        node.error = null;
        node.name = node.name || greeting.node;
        node.offset = clockOffset(greeting.time);
        node.channel.connected();
        this.emit();
      })
      .catch((e) => {
        node.error = e;
        this.emit();
        if (!(e instanceof AuthError)) node.timer = setTimeout(() => this.openEvents(node), RECONNECT_MS);
      });
    // A drop after READY also needs a retry: watch for the ERROR state.
    node.events.onState = (state) => {
      const wasReady = node.state === State.READY;
      node.state = state;
      if (wasReady && state === State.ERROR && !this.closed) {
        node.error = new ConnectionError(`Node ${node.name} is down`);
        node.timer = setTimeout(() => this.openEvents(node), RECONNECT_MS);
      }
      this.emit();
    };
  }

  /** The node entry of that name, or undefined. */
  node(name) {
    return this.nodes.find((n) => n.name === name);
  }

  /** Nodes whose events socket is READY, in display order. */
  healthyNodes() {
    return this.nodes.filter((n) => n.state === State.READY);
  }

  /** Names of every known node. */
  nodeNames() {
    return this.nodes.map((n) => n.name);
  }

  /** Modules announced by every up node (a menu needs them on all, frontend.md §1.6). */
  modules() {
    const up = this.healthyNodes().filter((n) => n.greeting);
    if (up.length === 0) return [];
    const sets = up.map((n) => new Set(n.greeting.modules.map((m) => m.name)));
    return [...sets[0]].filter((m) => sets.every((s) => s.has(m)));
  }

  /**
   * Whether every node whose greeting is known announces `module` (a menu needs it on all,
   * frontend.md §1.6); unlike modules(), also true before any events socket is up.
   */
  announces(module) {
    const known = this.nodes.filter((n) => n.greeting);
    return known.length > 0 && known.every((n) => n.greeting.modules.some((m) => m.name === module));
  }

  /**
   * Send one command. options.node: a node name, or undefined for the first up node.
   * Resolves with the reply root; rejects EngineError (KO) or ConnectionError.
   */
  async api(xml, { node } = {}) {
    if (node) {
      const entry = this.node(node);
      if (!entry) throw new ConnectionError(`Unknown node ${node}`);
      return entry.api.request(xml);
    }
    const order = [...this.healthyNodes(), ...this.nodes.filter((n) => n.state !== State.READY)];
    let last = new ConnectionError('No engine node is reachable');
    for (const entry of order) {
      try {
        return await entry.api.request(xml);
      } catch (e) {
        if (!(e instanceof ConnectionError)) throw e;
        last = e;
      }
    }
    throw last;
  }

  /** Send one command to every node: [{node, root} | {node, error}], in node order. */
  apiAll(xml) {
    return Promise.all(
      this.nodes.map((n) =>
        n.api.request(xml).then(
          (root) => ({ node: n.name, root }),
          (error) => ({ node: n.name, error }),
        ),
      ),
    );
  }

  /** Subscribe to events; see events.js Subscription for the options. */
  subscribe(options) {
    return new Subscription(this, options);
  }

  /** Use a new password hash for every later (re)connection (after a password change). */
  setPasswordHash(hash) {
    this.passwordHash = hash;
    for (const n of this.nodes) {
      n.api.passwordHash = hash;
      n.events.passwordHash = hash;
    }
  }

  /** Close every socket and stop reconnecting. */
  close() {
    this.closed = true;
    for (const n of this.nodes) {
      clearTimeout(n.timer);
      n.api.close();
      n.events.close();
    }
    this.listeners.clear();
  }
}
