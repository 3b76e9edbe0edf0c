/**
 * One websocket to one engine node, speaking subprotocol `api` or `events` (protocol.md §2, §6).
 *
 * State machine (mirrors what evQueue's own client does, frontend.md §1.4):
 *   DISCONNECTED --connect()--> CONNECTING
 *   CONNECTING: first message <ready> = auth disabled -> READY
 *               first message <auth challenge=…>  -> send the HMAC response -> AUTHENTICATING
 *   AUTHENTICATING: <ready> -> READY; a KO reply or a close -> AuthError (never retried:
 *               a wrong password must not be replayed in a loop)
 *   READY: a close we did not ask for -> ERROR ("node is down"); pending requests fail.
 *   close() -> DISCONNECTED.
 *
 * Rules:
 * - `api` sockets carry one request at a time: replies have no request id and the engine may
 *   answer concurrent requests out of order, so later requests wait in a queue.
 * - A request that gets no reply within its timeout closes the socket: a late reply would
 *   otherwise be taken as the answer to the next request.
 * - `<ping>` messages (dead-peer detection) are skipped everywhere.
 * - Reconnection is decided by the owner (cluster.js), not here.
 */

import { fromHex, hmacSha1, toHex } from './sha1.js';
import { checkResponse, escapeXml, parseXml } from './wire.js';

export const State = Object.freeze({
  DISCONNECTED: 'DISCONNECTED',
  CONNECTING: 'CONNECTING',
  AUTHENTICATING: 'AUTHENTICATING',
  READY: 'READY',
  ERROR: 'ERROR',
});

/** The socket could not be opened, or it dropped. Worth retrying later. */
export class ConnectionError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/** The engine refused the credentials. Not worth retrying with the same ones. */
export class AuthError extends Error {
  /** @param {boolean} required true when no credentials were given at all (a probe) */
  constructor(message, required = false) {
    super(message);
    this.name = 'AuthError';
    this.required = required;
  }
}

/**
 * The challenge response: hex(HMAC-SHA1(key = SHA1(password) raw, msg = unhex(challenge))).
 * @param {string} passwordHash hex SHA-1 of the password (what the session keeps)
 * @param {string} challenge the 40 hex characters sent by the engine
 */
export function challengeResponse(passwordHash, challenge) {
  return toHex(hmacSha1(fromHex(passwordHash), fromHex(challenge)));
}

/** The `<auth>` message, escaped (evQueue's UI concatenated the user name raw, §6.5). */
export function authMessage(user, response) {
  return `<auth response="${escapeXml(response)}" user="${escapeXml(user)}"/>`;
}

/** Parse a `<ready>` greeting into plain data. */
function readGreeting(root, authDisabled) {
  return {
    node: root.getAttribute('node') || '',
    version: root.getAttribute('version') || '',
    profile: root.getAttribute('profile') || 'ADMIN',
    time: root.getAttribute('time') || '',
    modules: Array.from(root.getElementsByTagName('module')).map((m) => ({
      name: m.getAttribute('name'),
      version: m.getAttribute('version'),
    })),
    authDisabled,
  };
}

export class NodeConnection {
  /**
   * @param {Object} options
   * @param {string} options.url ws:// or wss:// URL of the node
   * @param {'api'|'events'} options.protocol websocket subprotocol
   * @param {string} options.user user name ('' when auth is disabled)
   * @param {string|null} options.passwordHash hex SHA-1 of the password; null only probes
   *   (resolves when auth is disabled, rejects AuthError(required) when a login is needed)
   * @param {function(string, NodeConnection):void} [options.onState] state change callback
   * @param {function(Element):void} [options.onPush] messages received on an events socket
   * @param {number} [options.timeout] seconds to wait for a greeting or a reply
   */
  constructor({ url, protocol, user, passwordHash, onState = null, onPush = null, timeout = 30 }) {
    this.url = url;
    this.protocol = protocol;
    this.user = user;
    this.passwordHash = passwordHash;
    this.onState = onState;
    this.onPush = onPush;
    this.timeoutMs = timeout * 1000;
    this.state = State.DISCONNECTED;
    this.greeting = null;
    this.ws = null;
    this.connecting = null; // {promise, resolve, reject} while not READY
    this.queue = []; // pending api requests: {xml, resolve, reject}
    this.inFlight = null;
    this.timer = null;
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    if (this.onState) this.onState(state, this);
  }

  /** Open and authenticate; resolves with the greeting. Safe to call again while pending. */
  connect() {
    if (this.state === State.READY) return Promise.resolve(this.greeting);
    if (this.connecting) return this.connecting.promise;
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.connecting = { promise, resolve, reject };
    this.setState(State.CONNECTING);
    let ws;
    try {
      ws = new WebSocket(this.url, this.protocol);
    } catch (e) {
      this.failConnect(new ConnectionError(`Cannot connect to ${this.url}: ${e.message}`), State.ERROR);
      return promise;
    }
    this.ws = ws;
    this.armTimer(() => {
      this.failConnect(new ConnectionError(`No greeting from ${this.url}`), State.ERROR);
    });
    ws.onmessage = (ev) => {
      if (ws === this.ws) this.received(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws === this.ws) this.closed(ev);
    };
    ws.onerror = () => {}; // every error is followed by a close, handled there
    return promise;
  }

  armTimer(fn) {
    clearTimeout(this.timer);
    this.timer = setTimeout(fn, this.timeoutMs);
  }

  failConnect(error, state) {
    clearTimeout(this.timer);
    const pending = this.connecting;
    this.connecting = null;
    this.dropSocket();
    this.setState(state);
    if (pending) pending.reject(error);
    this.failQueue(error);
  }

  dropSocket() {
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= 1) ws.close();
  }

  received(data) {
    let root;
    try {
      root = parseXml(String(data)).documentElement;
    } catch (e) {
      this.failConnect(new ConnectionError(`Invalid XML from ${this.url}: ${e.message}`), State.ERROR);
      return;
    }
    if (root.nodeName === 'ping') return;
    if (this.state === State.CONNECTING) this.receivedFirst(root);
    else if (this.state === State.AUTHENTICATING) this.receivedAuthReply(root);
    else if (this.state === State.READY) this.receivedReady(root);
  }

  receivedFirst(root) {
    if (root.nodeName === 'ready') {
      this.becomeReady(root, true);
      return;
    }
    const challenge = root.getAttribute('challenge');
    if (root.nodeName !== 'auth' || !challenge) {
      this.failConnect(new ConnectionError(`Unexpected greeting <${root.nodeName}>`), State.ERROR);
      return;
    }
    if (this.passwordHash === null) {
      // a probe: learn whether a login is needed, send nothing
      this.failConnect(new AuthError('Login required', true), State.DISCONNECTED);
      return;
    }
    let response;
    try {
      response = challengeResponse(this.passwordHash, challenge);
    } catch (e) {
      this.failConnect(new AuthError('Authentication error: no usable password'), State.ERROR);
      return;
    }
    this.setState(State.AUTHENTICATING);
    this.ws.send(authMessage(this.user, response));
  }

  receivedAuthReply(root) {
    if (root.nodeName === 'ready') {
      this.becomeReady(root, false);
      return;
    }
    const message = root.getAttribute('error') || 'Authentication error';
    this.failConnect(new AuthError(message), State.ERROR);
  }

  becomeReady(root, authDisabled) {
    clearTimeout(this.timer);
    this.greeting = readGreeting(root, authDisabled);
    const pending = this.connecting;
    this.connecting = null;
    this.setState(State.READY);
    if (pending) pending.resolve(this.greeting);
    this.pump();
  }

  receivedReady(root) {
    if (this.protocol === 'events') {
      if (this.onPush) this.onPush(root);
      return;
    }
    const current = this.inFlight;
    if (!current) return; // a stray message; nothing is waiting for it
    this.inFlight = null;
    clearTimeout(this.timer);
    try {
      current.resolve(checkResponse(root));
    } catch (e) {
      current.reject(e);
    }
    this.pump();
  }

  closed(ev) {
    if (this.state === State.AUTHENTICATING) {
      this.failConnect(new AuthError(ev.reason || 'Authentication error'), State.ERROR);
    } else if (this.state === State.CONNECTING) {
      this.failConnect(new ConnectionError(`Connection to ${this.url} failed`), State.ERROR);
    } else {
      const name = this.greeting ? this.greeting.node : this.url;
      this.failConnect(
        new ConnectionError(`Node ${name} is down${ev.reason ? `: ${ev.reason}` : ''}`),
        State.ERROR,
      );
    }
  }

  failQueue(error) {
    const waiting = this.inFlight ? [this.inFlight, ...this.queue] : this.queue;
    this.inFlight = null;
    this.queue = [];
    for (const r of waiting) r.reject(error);
  }

  pump() {
    if (this.inFlight || this.state !== State.READY || this.queue.length === 0) return;
    this.inFlight = this.queue.shift();
    this.armTimer(() => {
      this.failConnect(
        new ConnectionError(`No reply from ${this.greeting.node} within ` + `${this.timeoutMs / 1000} s`),
        State.ERROR,
      );
    });
    this.ws.send(this.inFlight.xml);
  }

  /**
   * Send one API command and resolve with the root of its OK reply (rejects EngineError on KO).
   * Connects first when needed (api sockets are opened lazily).
   */
  request(xml) {
    if (this.protocol !== 'api') return Promise.reject(new Error('request() needs an api socket'));
    const promise = new Promise((resolve, reject) => this.queue.push({ xml, resolve, reject }));
    if (this.state === State.READY) this.pump();
    else this.connect().catch(() => {}); // the queue is failed by failConnect
    return promise;
  }

  /** Send a raw message on a READY socket (events subscribe/ack); false if not READY. */
  send(xml) {
    if (this.state !== State.READY) return false;
    this.ws.send(xml);
    return true;
  }

  /** Close on purpose; pending requests fail. */
  close() {
    clearTimeout(this.timer);
    const pending = this.connecting;
    this.connecting = null;
    this.dropSocket();
    this.setState(State.DISCONNECTED);
    const error = new ConnectionError('Connection closed');
    if (pending) pending.reject(error);
    this.failQueue(error);
  }
}
