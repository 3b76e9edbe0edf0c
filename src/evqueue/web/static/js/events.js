/**
 * Event subscriptions over `events` sockets (protocol.md §6, frontend.md §3.0).
 *
 * An EventChannel belongs to one node's events socket: it sends
 *   <event action="subscribe" type=T api_cmd=base64(cmd) send_now=yes|no external_id=N [object_id]/>
 * dispatches every push by its `external-id`, and acks every push that has an `event-id`
 * (the engine holds back further pushes of that subscription until the ack: throttling).
 * Subscriptions live per socket on the engine, so after a reconnect the channel sends them all
 * again, with send_now on the one type per subscription that asks for it.
 *
 * A Subscription is what pages use: several event types sharing one API command, on a set of
 * nodes chosen by `scope`:
 *   'each'   every node; send_now on every node (per-node data: running instances, queues);
 *   'shared' every node (events are local to the node where the change happened), send_now on
 *            one node only (data from the shared database: lists; the last reply wins);
 *   '<name>' that node only (an instance's details on the node that runs it).
 * Nodes that appear or come back later are subscribed as they do; unsubscribe goes everywhere.
 */

import { base64Encode, buildCommand, checkResponse } from './wire.js';

export class EventChannel {
  /** @param {import('./connection.js').NodeConnection} connection an events socket */
  constructor(connection) {
    this.connection = connection;
    this.entries = new Map(); // external id -> {type, apiCmd, objectId, sendNow, resendNow, handler, sent}
    connection.onPush = (root) => this.dispatch(root);
  }

  subscribeMessage(e, sendNow) {
    return buildCommand('event', {
      action: 'subscribe',
      type: e.type,
      api_cmd: e.apiCmd,
      send_now: sendNow ? 'yes' : 'no',
      external_id: e.externalId,
      object_id: e.objectId || undefined,
    });
  }

  /** Register a subscription; sent now if the socket is ready, otherwise on connect. */
  add(entry) {
    this.entries.set(entry.externalId, { ...entry, sent: false });
    const e = this.entries.get(entry.externalId);
    if (this.connection.send(this.subscribeMessage(e, e.sendNow))) e.sent = true;
  }

  /** Forget a subscription and tell the engine. */
  remove(externalId) {
    const e = this.entries.get(externalId);
    if (!e) return;
    this.entries.delete(externalId);
    this.connection.send(
      buildCommand('event', {
        action: 'unsubscribe',
        type: e.type,
        external_id: e.externalId,
        object_id: e.objectId || undefined,
      }),
    );
  }

  /** The socket became READY: (re)send every subscription. */
  connected() {
    for (const e of this.entries.values()) {
      const now = e.sent ? e.resendNow : e.sendNow;
      if (this.connection.send(this.subscribeMessage(e, now))) e.sent = true;
    }
  }

  /** Route a push to its subscription; always ack when it carries an event id. */
  dispatch(root) {
    const eventId = root.getAttribute('event-id');
    if (eventId) this.connection.send(buildCommand('event', { action: 'ack', event_id: eventId }));
    const e = this.entries.get(Number(root.getAttribute('external-id')));
    if (e) e.handler(root);
  }
}

export class Subscription {
  /**
   * @param {import('./cluster.js').Cluster} cluster
   * @param {Object} o
   * @param {string[]} o.types event types; the last one carries send_now
   * @param {string} o.command the API command (XML text) the engine runs on each event
   * @param {string} [o.scope] 'each', 'shared' or a node name
   * @param {number} [o.objectId] only events about this object (0 = any)
   * @param {boolean} [o.sendNow] ask for the data at once
   * @param {function(Element, string):void} o.onData OK replies, with the node name
   * @param {function(Error, string):void} [o.onError] KO replies (default: cluster.reportError)
   */
  constructor(cluster, { types, command, scope = 'shared', objectId = 0, sendNow = true, onData, onError }) {
    this.cluster = cluster;
    this.types = types;
    this.command = command;
    this.apiCmd = base64Encode(command);
    this.scope = scope;
    this.objectId = objectId;
    this.sendNow = sendNow;
    this.onData = onData;
    this.onError = onError || ((e, node) => cluster.reportError(e, node, command));
    this.ids = types.map(() => cluster.nextExternalId());
    this.bound = new Set(); // node names
    this.primary = null; // for 'shared': the node asked for the first reply
    this.closed = false;
    this.gotData = false;
    this.unlisten = cluster.onChange(() => this.bindAll());
    this.bindAll();
  }

  targets() {
    const nodes = this.cluster.nodes;
    if (this.scope === 'each' || this.scope === 'shared') return nodes;
    return nodes.filter((n) => n.name === this.scope);
  }

  bindAll() {
    if (this.closed) return;
    if (this.scope === 'shared' && !this.primary) {
      const first = this.cluster.healthyNodes()[0] || this.cluster.nodes[0];
      this.primary = first ? first.name : null;
    }
    for (const node of this.targets()) if (!this.bound.has(node.name)) this.bind(node);
    this.failOver();
  }

  /** 'shared' data not received yet and its node is down: ask a healthy node once instead. */
  failOver() {
    if (this.scope !== 'shared' || !this.sendNow || this.gotData) return;
    const healthy = this.cluster.healthyNodes();
    if (healthy.length === 0 || healthy.some((n) => n.name === this.primary)) return;
    this.primary = healthy[0].name;
    this.cluster
      .api(this.command, { node: this.primary })
      .then((root) => {
        if (!this.closed) {
          this.gotData = true;
          this.onData(root, this.primary);
        }
      })
      .catch((e) => this.onError(e, this.primary));
  }

  bind(node) {
    this.bound.add(node.name);
    const wantsData = this.scope !== 'shared' || node.name === this.primary;
    const handler = (root) => {
      if (this.closed) return;
      let ok;
      try {
        ok = checkResponse(root);
      } catch (e) {
        this.onError(e, node.name);
        return;
      }
      this.gotData = true;
      this.onData(ok, node.name);
    };
    this.types.forEach((type, i) => {
      const last = i === this.types.length - 1;
      node.channel.add({
        externalId: this.ids[i],
        type,
        apiCmd: this.apiCmd,
        objectId: this.objectId,
        handler,
        sendNow: this.sendNow && last && wantsData,
        resendNow: last && wantsData,
      });
    });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.unlisten();
    for (const node of this.cluster.nodes) for (const id of this.ids) node.channel.remove(id);
    this.bound.clear();
  }
}
