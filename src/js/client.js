// `RealtimeClient` and `Subscription`: the JavaScript face of the wasm `Session`. The session
// decides everything (src/core/session.rs, through the numeric exports of src/js/api.rs); this
// class hands it what the wire reports, performs the records it writes back (open, close,
// send, timers, status, outbox, resync) and calls the app's callbacks. JS owns names,
// callbacks, stores and messages; only numbers cross.
import { Wire } from './wire.js';
import {
  authFrame, checkName, clientOptions, clientStats, errorEvent, livestateError, pongFrame, publishFrame,
  statusName, stopReason, subscribeFrame, unreachable, unsubscribeFrame,
} from './boundary.js';

/** The wasm exports and views of its memory, set by `install` (the package's `init`). */
export const wasm = { x: undefined, f: undefined, u: undefined, header: 0, at: 0, n: 0 };

/** Called once the module is instantiated, with its exports. */
export function install(exports) {
  wasm.x = exports;
  wasm.f = wasm.u = undefined;
  wasm.header = exports.ls_header() >>> 2;
}

/** The memory as f64s. A grown memory detaches the old buffer, and views of a detached
 *  buffer have length 0: that is the cue to make new ones (no buffer getter per call). */
function views() {
  if (!wasm.f || wasm.f.length === 0) {
    const b = wasm.x.memory.buffer;
    wasm.f = new Float64Array(b);
    wasm.u = new Uint32Array(b);
  }
  return wasm.f;
}

/** Where the last call's output is (wasm.at, wasm.n numbers long), in the memory returned:
 *  the hot path reads it in place without making a view. Valid until the next call into wasm. */
export function out() {
  const f = views();
  wasm.at = wasm.u[wasm.header] >>> 3;
  wasm.n = wasm.u[wasm.header + 1];
  return f;
}

/** The last call's output as a view. */
export function output() {
  const f = out();
  return f.subarray(wasm.at, wasm.at + wasm.n);
}

/** Room for `n` numbers of input to the next call. */
export function input(n) {
  const at = wasm.x.ls_input(n) >>> 3;
  return views().subarray(at, at + n);
}

const utf8 = new TextEncoder();
/** Puts `s` in the wasm's text buffer for the next call. */
function text(s) {
  const bytes = utf8.encode(s);
  const at = wasm.x.ls_text(bytes.length);
  new Uint8Array(wasm.x.memory.buffer, at, bytes.length).set(bytes);
}

const BACKOFF = [
  'backoff.min must be a number greater than 0',
  'backoff.max must be a finite number no less than backoff.min',
  'backoff.factor must be a finite number no less than 1',
  'backoff.jitter must be between 0 and 1',
];
const MAX_TIMER_MS = 2147483647;
const notConnected = (message) => livestateError(0, message);
/** Error codes that refuse a feature's subscription, so its presence is no longer known. */
const REFUSALS = ['forbidden', 'unknown_name', 'bad_name', 'too_big'];

export class RealtimeClient {
  /** Creates a disconnected client. Throws `LivestateError` (`invalidOptions`) naming the bad option. */
  constructor(options) {
    if (!wasm.x) throw livestateError(1, 'the module is not loaded: await init() (the default export) before creating a client');
    const o = clientOptions(options);
    const c = wasm.x.ls_client_new(o.min, o.max, o.factor, o.jitter, o.attempts, o.heartbeatTimeout, o.connectTimeout,
      o.outboxMax, o.outboxAge, Math.floor(Math.random() * 2 ** 53));
    if (c < 0) throw livestateError(1, BACKOFF[-c - 1]);
    this._c = c;
    this._url = o.url;
    this._token = o.token;
    /** The `debug` option: a function taking one line of text, or undefined. */
    this._log = o.debug;
    this._socketToken = undefined;
    this._closeReason = '';
    this._maxSize = o.maxSize;
    this._ids = new Map();
    this._names = [];
    /** Subscription id to the app's callback, or to the store it feeds. */
    this._subs = new Map();
    /** Store id to store, for resyncs. */
    this._stores = new Map();
    /** Outbox id to [frame, resolve, reject]. */
    this._outbox = new Map();
    /** Feature to its presence: { members: connection id to member, gen: the socket whose
     *  snapshot it is, listeners }. */
    this._presence = new Map();
    this._info = o.info;
    this._listeners = [[], [], []];
    this._busy = false;
    this._wire = new Wire(this);
    // Shared across tabs where the browser can (Web Locks, BroadcastChannel); alone otherwise.
    // Loaded only with the option (a chunk of its own for bundlers); the wire waits for it
    // before its first socket.
    if (o.share !== undefined) {
      this._wire.sharing = import('./share.js').then(({ Sharing, canShare }) =>
        this._c >= 0 && canShare() ? new Sharing(o.share, o.url, this) : undefined);
    }
    for (const f of o.features) this._act(wasm.x.ls_pin(c, this._id(f)));
  }

  /** The session's id of a name, interned the first time it is seen. */
  _id(name) {
    let id = this._ids.get(name);
    if (id === undefined) {
      text(name);
      id = wasm.x.ls_intern(this._c);
      this._ids.set(name, id);
      this._names[id] = name;
    }
    return id;
  }

  /** The client's state as the session reports it (see `ls_state`). */
  _state() {
    wasm.x.ls_state(this._c);
    return output().slice();
  }

  /** Performs what the last call wrote, then tells listeners; returns `r`. Records are copied
   *  first: a callback may call back into the client. */
  _act(r) {
    const o = output();
    if (o.length) this._performAll(o.slice(), undefined);
    return r;
  }

  /** Performs `records` (a copy: a callback may call back into the client), collecting an
   *  event's route into `route`, then tells listeners. */
  _performAll(records, route) {
    const notices = [];
    this._busy = true;
    try {
      this._perform(records, notices, route);
    } finally {
      this._busy = false;
    }
    this._notify(notices);
  }

  _perform(o, notices, event) {
    const w = this._wire;
    const names = (i, n) => Array.from(o.subarray(i, i + n), (id) => this._names[id]);
    for (let i = 0; i < o.length; ) {
      switch (o[i]) {
        case 1:
          this._log && this._log('socket ' + o[i + 1] + ': opening ' + this._url);
          w.open(o[i + 1], this._url, this._token);
          i += 2;
          break;
        case 2:
          // Only a token function can produce a fresh token; a fixed one is left to expire
          // (the gateway then closes with 4500 and the app calls connect(newToken)).
          if (typeof this._token === 'function') w.refresh(o[i + 1], this._token);
          i += 2;
          break;
        case 3:
          this._log && this._log('socket ' + o[i + 1] + ': closing');
          w.close(o[i + 1]);
          i += 2;
          break;
        case 4:
          if (this._socketToken !== undefined) w.send(authFrame(this._socketToken));
          i += 1;
          break;
        case 5: {
          const n = o[i + 1];
          const features = names(i + 2, n);
          i += 2 + n;
          const m = o[i];
          const [pf, pe, ps] = [[], [], []];
          for (let k = 0; k < m; k++) {
            pf.push(this._names[o[i + 1 + 3 * k]]);
            pe.push(this._names[o[i + 2 + 3 * k]]);
            ps.push(o[i + 3 + 3 * k]);
          }
          i += 1 + 3 * m;
          this._log && this._log('subscribe ' + features.join(', ') + (m ? '; resuming ' + pf.map((f, k) => f + ' after ' + pe[k] + '/' + ps[k]).join(', ') : ''));
          w.send(subscribeFrame(features, pf, pe, ps, this._info));
          break;
        }
        case 6: {
          const n = o[i + 1];
          this._log && this._log('unsubscribe ' + names(i + 2, n).join(', '));
          w.send(unsubscribeFrame(names(i + 2, n)));
          i += 2 + n;
          break;
        }
        case 7:
          w.send(pongFrame());
          i += 1;
          break;
        case 8:
          w.timer(o[i + 1], Math.ceil(Math.min(Math.max(o[i + 2], 0), MAX_TIMER_MS)));
          i += 3;
          break;
        case 9:
          w.stop(o[i + 1]);
          i += 2;
          break;
        case 10:
          this._log && this._log('status: ' + statusName(o[i + 1]));
          notices.push([0, o[i + 1]]);
          i += 2;
          break;
        case 11:
          this._log && this._log(this._names[o[i + 1]] + ': events lost for good (resync)');
          notices.push([2, this._names[o[i + 1]]]);
          i += 2;
          break;
        case 12: {
          const n = o[i + 1];
          for (const id of o.subarray(i + 2, i + 2 + n)) {
            const entry = this._outbox.get(id);
            if (!entry) continue;
            this._outbox.delete(id);
            if (w.send(entry[0])) entry[1]();
            else entry[2](notConnected('the connection closed'));
          }
          i += 2 + n;
          break;
        }
        case 13: {
          const n = o[i + 2];
          const error = o[i + 1]
            ? livestateError(5, 'disconnect() was called before the message could be sent')
            : livestateError(4, 'the message waited in the outbox longer than maxAge');
          for (const id of o.subarray(i + 3, i + 3 + n)) {
            const entry = this._outbox.get(id);
            if (!entry) continue;
            this._outbox.delete(id);
            entry[2](error);
          }
          i += 3 + n;
          break;
        }
        case 17: {
          const event = unreachable(this._url);
          this._log && this._log(event.message);
          notices.push([1, event]);
          i += 1;
          break;
        }
        case 14:
        case 15: {
          const store = this._stores.get(o[i + 1]);
          if (store) notices.push([3, store, o[i] === 14]);
          i += 2;
          break;
        }
        case 16: {
          // The route of an event: its store operation, then the subscriptions in order.
          const n = o[i + 2];
          if (event) event.push(o[i + 1], o.subarray(i + 3, i + 3 + n));
          i += 3 + n;
          break;
        }
        default:
          return;
      }
    }
  }

  /** Tells listeners what happened, with the client's own work done. */
  _notify(notices) {
    for (const [kind, a, b] of notices) {
      if (kind === 3) {
        a._resync(b);
        continue;
      }
      let args;
      if (kind === 0) args = [statusName(a), a === 1 ? this.statusReason : undefined];
      else if (kind === 1) args = [a];
      else args = [a];
      // A throwing listener must not stop the others; there is nowhere better to report it.
      for (const f of this._listeners[kind].slice()) {
        try {
          f(...args);
        } catch {}
      }
    }
  }

  _error(event) {
    this._notify([[1, event]]);
  }

  // The session's clock is the page's monotonic one (performance.now(), and a frame's event
  // timeStamp): a change of the wall clock cannot stretch or cut a heartbeat timeout.
  _input(kind, gen, a, b) {
    return this._act(wasm.x.ls_input_event(this._c, kind, gen, a, b, performance.now()));
  }

  // What the wire reports. Each returns false when the client is busy performing (a socket
  // delivered from inside our own `send`): the wire then tries again in a microtask.

  _event(gen, feature, entity, action, seq, epoch, message, data, inBatch, now) {
    if (this._busy) return false;
    wasm.x.ls_event(this._c, gen, feature, entity, action, seq, epoch, inBatch ? 1 : 0, now);
    const f = out();
    const at = wasm.at;
    const n = wasm.n;
    // The common case, an event and nothing else to do: read the route in place.
    if (n >= 3 && f[at] === 16 && n === 3 + f[at + 2]) {
      if (f[at + 2] === 1) this._deliver(f[at + 3], f[at + 1], action, data, message);
      else this._dispatch(f.slice(at + 3, at + n), f[at + 1], action, data, message);
      return true;
    }
    if (n === 0) return true;
    const route = [];
    this._performAll(f.slice(at, at + n), route);
    if (route.length) this._dispatch(route[1], route[0], action, data, message);
    return true;
  }

  /** Delivers an event to its subscriptions in order; one that an earlier callback removed is
   *  skipped. */
  _dispatch(subs, op, action, data, message) {
    for (const id of subs) this._deliver(id, op, action, data, message);
  }

  _deliver(id, op, action, data, message) {
    const target = this._subs.get(id);
    if (target === undefined) return;
    if (typeof target !== 'function') {
      target._event(op, this._names[action], data, message);
      return;
    }
    try {
      target(data, message);
    } catch (e) {
      wasm.x.ls_count(this._c, 1);
      this._error(errorEvent(0, message.feature + '.' + message.entity + '.' + message.action, e));
    }
  }

  _frame(gen, code, now) {
    if (this._busy) return false;
    this._act(wasm.x.ls_frame(this._c, gen, code === -1 ? 1 : 0, now));
    const env = this._wire.env;
    if (code === -1) this._error(env.report());
    else if (code === -2) this._control(gen, env);
    return true;
  }

  _control(gen, env) {
    switch (env.kind()) {
      case 0: // welcome
        this._log && this._log('socket ' + gen + ': welcome, heartbeat every ' + env.heartbeat() + ' ms');
        this._input(9, gen, env.heartbeat(), env.tokenMs());
        break;
      case 1: // heartbeat
        this._input(7, gen, 0, NaN);
        break;
      case 2: // authenticated
        this._input(10, gen, 0, env.tokenMs());
        break;
      case 3: {
        // gap: each feature is recovered from the gateway's history (a replay on this socket).
        this._log && this._log('gap in ' + env.list().join(', ') + ': recovering from history');
        const features = env.list().map((f) => this._id(f));
        input(features.length).set(features);
        this._act(wasm.x.ls_gap(this._c, features.length));
        this._error(env.report());
        break;
      }
      case 4: {
        // subscribed
        const features = env.list();
        this._log && this._log('subscribed ' + features.map((f) => f + ' at ' + env.epochOf(f) + '/' + env.seqOf(f) + ['', ' (not recovered)', ' (recovered)'][env.recoveredOf(f) + 1]).join(', '));
        const rows = features.flatMap((f) => [this._id(f), this._id(env.epochOf(f)), env.seqOf(f), env.recoveredOf(f)]);
        input(rows.length).set(rows);
        this._act(wasm.x.ls_subscribed(this._c, features.length));
        // A presence from an earlier socket that this one did not renew is stale: the gateway
        // sends a snapshot before `subscribed` to whoever may see one.
        for (const f of env.x.features) if (this._presence.get(f)?.gen !== gen) this._forget(f, gen);
        break;
      }
      case 5:
        for (const f of env.list()) this._forget(f, gen);
        break;
      case 6: {
        const r = env.report();
        this._log && this._log('gateway error: ' + r.code + ': ' + r.message);
        if (REFUSALS.includes(r.code)) this._forget(r.feature, gen);
        this._error(r);
        break;
      }
      case 7: {
        const m = env.x;
        this._members(m.feature, 'sync', undefined, new Map(m.members.map((x) => [x.connectionId, x])), gen);
        break;
      }
      case 8:
      case 9: {
        // Repeats are ignored: a join of a listed member, a leave of an unlisted one.
        const m = env.x;
        const p = this._p(m.feature);
        const id = m.member.connectionId;
        const join = env.kind() === 8;
        if (join === p.m.has(id)) break;
        join ? p.m.set(id, m.member) : p.m.delete(id);
        this._members(m.feature, join ? 'join' : 'leave', m.member, p.m, p.gen);
      }
    }
  }

  /** A feature's presence, made if missing: members by connection id, the socket whose
   *  snapshot they are, listeners. */
  _p(feature) {
    let p = this._presence.get(feature);
    if (!p) this._presence.set(feature, (p = { m: new Map(), gen: -1, on: [] }));
    return p;
  }

  /** Sets a feature's members and tells its presence listeners. */
  _members(feature, type, member, members, gen) {
    const p = this._p(feature);
    p.m = members;
    p.gen = gen;
    const change = { type, member, members: [...members.values()] };
    for (const f of p.on.slice()) {
      try {
        f(change);
      } catch {}
    }
  }

  /** Empties a feature's presence (unsubscribed, refused, or not renewed by a new socket). */
  _forget(feature, gen) {
    if (this._presence.get(feature)?.m.size) this._members(feature, 'sync', undefined, new Map(), gen);
  }

  _invalid() {
    wasm.x.ls_count(this._c, 0);
    this._error(this._wire.env.report());
  }

  /** The token for socket `gen` is here; false if that socket is no longer wanted. */
  _tokenFor(gen, token) {
    if (this._c < 0 || this._state()[4] !== gen) return false; // disconnected or replaced meanwhile
    this._socketToken = token;
    return true;
  }

  /** The token function threw (or gave no string): reported, and the attempt for socket
   *  `gen` fails (-1: a refresh, which only reports). */
  _tokenFailed(gen, thrown) {
    if (this._c < 0) return;
    this._error(errorEvent(1, '', thrown));
    if (gen >= 0) this._closed(gen, 1006, '');
  }

  /** A fresh token for socket `gen`: sent in band if that socket is still the connected one. */
  _refreshed(gen, token) {
    if (this._c < 0) return;
    const s = this._state();
    if (s[4] === gen && s[5] === 1) this._wire.send(authFrame(token));
  }

  _opened(gen) {
    this._log && this._log('socket ' + gen + ': open');
    this._input(5, gen, 0, NaN);
  }

  _closed(gen, code, reason) {
    this._log && this._log('socket ' + gen + ': closed ' + code + (reason ? ' ' + reason : ''));
    text(reason);
    this._closeReason = reason;
    this._input(6, gen, code, NaN);
  }

  _fired(kind) {
    this._input(8, 0, kind, NaN);
  }

  /** The page went online (0), offline (1) or visible (2). */
  _page(kind) {
    this._input(2 + kind, 0, 0, NaN);
  }

  /** Connects, and keeps reconnecting until `disconnect()`. A `token` given here replaces the
   *  one from the options. Does nothing if already connected or connecting. */
  connect(token) {
    if (typeof token === 'string') this._token = token;
    this._input(0, 0, 0, NaN);
  }

  /** Closes the socket, cancels every timer and drops every subscription; no reconnect follows. */
  disconnect() {
    if (this._c < 0) return;
    this._subs.clear();
    this._stores.clear();
    this._presence.clear();
    this._input(1, 0, 0, NaN);
  }

  /** Disconnects and releases the client's memory in wasm; the client is unusable after. */
  free() {
    if (this._c < 0) return;
    this.disconnect();
    this._wire.dispose();
    wasm.x.ls_client_free(this._c);
    this._c = -1;
  }

  /** Publishes an event through the gateway; see the declaration. */
  send(event) {
    const frame = publishFrame(event, this._maxSize);
    const v = this._act(wasm.x.ls_send(this._c, performance.now()));
    if (v === 0 && this._wire.send(frame)) return Promise.resolve();
    if (v === 0 || v === -1) throw notConnected("not connected: send() needs status 'connected'");
    if (v === -2) return Promise.reject(livestateError(3, 'the outbox is full'));
    return new Promise((resolve, reject) => this._outbox.set(v, [frame, resolve, reject]));
  }

  get status() {
    return statusName(this._state()[0]);
  }

  get statusReason() {
    const s = this._state();
    return s[1] < 0 ? undefined : stopReason(s[1], s[2], this._closeReason);
  }

  get reconnectAttempts() {
    return this._state()[3];
  }

  stats() {
    const s = this._state();
    return clientStats(s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], this._wire.leading());
  }

  _listen(kind, callback) {
    const list = this._listeners[kind];
    list.push(callback);
    return () => {
      const i = list.indexOf(callback);
      if (i >= 0) list.splice(i, 1);
    };
  }

  onStatus(callback) {
    return this._listen(0, callback);
  }

  onError(callback) {
    return this._listen(1, callback);
  }

  onResync(callback) {
    return this._listen(2, callback);
  }

  /** The members of a feature that keeps presence, as the gateway last said; see the declaration. */
  presence(feature) {
    checkName('feature', feature);
    return [...(this._presence.get(feature)?.m.values() ?? [])];
  }

  /** Calls `callback` with each change of a feature's members; the feature stays subscribed
   *  while the callback is registered. Returns the function that removes it. */
  onPresence(feature, callback) {
    if (typeof callback !== 'function') throw livestateError(2, 'the callback must be a function');
    const sub = this._subscribe(feature, 0, undefined, undefined, () => {});
    const on = this._p(feature).on;
    on.push(callback);
    return () => {
      const i = on.indexOf(callback);
      if (i >= 0) on.splice(i, 1);
      sub.unsubscribe();
    };
  }

  subscribeToFeature(feature, callback) {
    return this._subscribe(feature, 0, undefined, undefined, callback);
  }

  subscribeToEntity(feature, entity, callback) {
    checkName('entity', entity);
    return this._subscribe(feature, 1, entity, undefined, callback);
  }

  subscribeToEvent(feature, entity, action, callback) {
    checkName('entity', entity);
    checkName('action', action);
    return this._subscribe(feature, 2, entity, action, callback);
  }

  _subscribe(feature, scope, entity, action, target, store = 0) {
    checkName('feature', feature);
    if (store === 0 && typeof target !== 'function') throw livestateError(2, 'the callback must be a function');
    const f = this._id(feature);
    const e = entity === undefined ? 0 : this._id(entity);
    const a = action === undefined ? 0 : this._id(action);
    const id = wasm.x.ls_subscribe(this._c, f, scope, e, a, store);
    this._subs.set(id, target);
    this._act(id);
    return new Subscription(this, id);
  }
}

/** A subscription made with `subscribeToFeature`, `subscribeToEntity` or `subscribeToEvent`. */
export class Subscription {
  constructor(client, id) {
    this._client = client;
    this._id = id;
  }

  /** Stops delivery to this callback. Safe to call more than once. */
  unsubscribe() {
    const c = this._client;
    if (c._c < 0 || !c._subs.delete(this._id)) return;
    c._act(wasm.x.ls_unsubscribe(c._c, this._id));
  }

  /** True until `unsubscribe()` or the client's `disconnect()`. */
  get active() {
    return this._client._subs.has(this._id);
  }

  free() {}
}
