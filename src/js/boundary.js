// The rest of the JS/wasm boundary, on the JS side: what JS hands in (options, events to send)
// is read and checked here, and what JS gets back (errors, stats, status reasons, frames to
// send, store diffs) is built here. So the wasm carries no serde, no JSON and no text
// formatting: it passes numbers and the strings it already holds.
import { nameRule, validName } from './envelope.js';

const CODES = ['notConnected', 'invalidOptions', 'invalidArgument', 'outboxFull', 'outboxExpired', 'disconnected'];

/** A `LivestateError`: an `Error` named so, with a machine-readable `code` (CODES[code]). */
/** What every method of the package throws: an `Error` with a machine-readable `code`. */
export class LivestateError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'LivestateError';
    this.code = code;
  }
}

/** True for a `LivestateError`, also one thrown by another copy of the package (a bundler
 *  that loaded it twice), where `instanceof` says no. */
export const isLivestateError = (e) => e instanceof LivestateError || (e instanceof Error && e.name === 'LivestateError' && typeof e.code === 'string');

export function livestateError(code, message) {
  return new LivestateError(CODES[code], message);
}
const fail = (code, message) => {
  throw livestateError(code, message);
};

/** A thrown value as text, for error events. */
export function describe(v) {
  if (v instanceof Error) return v.message;
  if (typeof v === 'string') return v;
  try {
    const s = JSON.stringify(v);
    if (s !== undefined) return s;
  } catch {}
  return String(v);
}

/** Refuses a misspelt field rather than ignoring it. */
function only(v, keys, what, code) {
  if (v === null || typeof v !== 'object') fail(code, what + ' must be an object');
  for (const k of Object.keys(v))
    if (!keys.includes(k)) fail(code, 'unknown field `' + k + '` in ' + what + '; expected one of: ' + keys.join(', '));
}

const MAX_TIMER_MS = 2147483647;
const isWhole = (n, min) => typeof n === 'number' && Number.isInteger(n) && n >= min && n <= 4294967295;

/** `ClientOptions`, checked and with every default filled in (NaN: none). */
export function clientOptions(o) {
  const bad = (m) => fail(1, m);
  only(o, ['url', 'token', 'backoff', 'maxReconnectAttempts', 'heartbeatTimeout', 'connectTimeout', 'features', 'outbox', 'maxMessageSize', 'debug', 'shareAcrossTabs', 'presenceInfo'], 'options', 1);
  // null means "the default", as undefined does.
  const num = (v, name) => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number') bad('invalid options: ' + name + ' must be a number');
    return v;
  };
  const ms = (v, name) => {
    if (num(v, name) === undefined) return NaN;
    if (!(Number.isFinite(v) && v > 0 && v <= MAX_TIMER_MS)) bad(name + ' must be a number of milliseconds > 0');
    return v;
  };
  if (typeof o.url !== 'string') bad('invalid options: url must be a string');
  const token = o.token === null ? undefined : o.token;
  if (token !== undefined && typeof token !== 'string' && typeof token !== 'function') bad('token must be a string or a function returning one');
  const b = o.backoff === undefined || o.backoff === null ? {} : o.backoff;
  only(b, ['min', 'max', 'factor', 'jitter'], 'options.backoff', 1);
  const min = num(b.min, 'backoff.min') ?? 500;
  let attempts = num(o.maxReconnectAttempts, 'maxReconnectAttempts') ?? 5;
  if (attempts === Infinity) attempts = -1;
  else if (!isWhole(attempts, 0)) bad('maxReconnectAttempts must be a whole number >= 0, or Infinity');
  const features = o.features ?? [];
  if (!Array.isArray(features)) bad('invalid options: features must be an array of strings');
  for (const f of features) if (!validName(f)) bad('features: ' + nameRule('feature'));
  let outboxMax = 0;
  let outboxAge = 30000;
  const ob = o.outbox;
  if (ob === true) outboxMax = 100;
  else if (ob !== undefined && ob !== null && ob !== false) {
    only(ob, ['maxMessages', 'maxAge'], 'options.outbox', 1);
    outboxMax = ob.maxMessages ?? 100;
    if (!isWhole(outboxMax, 1)) bad('outbox.maxMessages must be a whole number >= 1');
    outboxAge = ob.maxAge === undefined ? outboxAge : typeof ob.maxAge === 'number' ? ms(ob.maxAge, 'outbox.maxAge') : ms(NaN, 'outbox.maxAge');
  }
  const d = o.debug;
  if (d !== undefined && d !== null && typeof d !== 'boolean' && typeof d !== 'function') bad('debug must be true, false or a function taking one line of text');
  const debug = d === true ? (line) => console.debug('[livestate] ' + line) : typeof d === 'function' ? d : undefined;
  const maxSize = num(o.maxMessageSize, 'maxMessageSize') ?? 65536;
  const sh = o.shareAcrossTabs;
  if (sh !== undefined && sh !== null && typeof sh !== 'boolean' && !(typeof sh === 'string' && sh.length > 0 && sh.length <= 200))
    bad('shareAcrossTabs must be true, false or a connection key (a string of 1 to 200 characters)');
  const share = sh === true ? 'default' : typeof sh === 'string' ? sh : undefined;
  if (!isWhole(maxSize, 1)) bad('maxMessageSize must be a whole number of bytes >= 1');
  const info = o.presenceInfo;
  let json;
  try {
    json = JSON.stringify(info);
  } catch {}
  if (info !== undefined && typeof json !== 'string') bad('presenceInfo must be a JSON value');
  return {
    info,
    url: resolveUrl(o.url),
    token,
    min,
    max: num(b.max, 'backoff.max') ?? Math.max(min, 20000),
    factor: num(b.factor, 'backoff.factor') ?? 2,
    jitter: num(b.jitter, 'backoff.jitter') ?? 1,
    attempts,
    heartbeatTimeout: ms(o.heartbeatTimeout, 'heartbeatTimeout'),
    connectTimeout: ms(o.connectTimeout, 'connectTimeout') || 10000,
    features,
    outboxMax,
    outboxAge,
    maxSize,
    debug,
    share,
  };
}

/** Resolves `/ws`-style paths against the page and maps http(s) to ws(s). */
function resolveUrl(url) {
  let u;
  try {
    u = globalThis.location ? new URL(url, globalThis.location.href) : new URL(url);
  } catch {
    fail(1, 'url is not a valid URL: ' + JSON.stringify(url));
  }
  const scheme = { 'ws:': 'ws:', 'wss:': 'wss:', 'http:': 'ws:', 'https:': 'wss:' }[u.protocol];
  if (!scheme) fail(1, 'url must use ws: or wss:, not ' + u.protocol);
  u.protocol = scheme;
  return u.href;
}

/** Throws `invalidArgument` unless `name` is a valid feature, entity or action name. */
export function checkName(field, name) {
  if (!validName(name)) fail(2, nameRule(field));
}

const PRIORITIES = ['low', 'normal', 'high', 'critical'];
const utf8 = new TextEncoder();

/** The `publish` frame for `send(event)`, checked against the protocol and `maxSize` bytes. */
export function publishFrame(event, maxSize) {
  only(event, ['feature', 'entity', 'action', 'data', 'priority'], 'event', 2);
  for (const field of ['feature', 'entity', 'action']) checkName(field, event[field]);
  if (event.data === undefined) fail(2, 'invalid event: missing field `data`');
  if (event.priority !== undefined && !PRIORITIES.includes(event.priority))
    fail(2, 'invalid event: priority must be one of ' + PRIORITIES.join(', '));
  const { feature, entity, action, data, priority } = event;
  const text = JSON.stringify({ type: 'publish', feature, entity, action, data, priority });
  // The gateway closes the whole connection (1009) on an oversized message, which would cost
  // every subscription of this tab a reconnect: refuse it here instead.
  const size = text.length > maxSize / 3 ? utf8.encode(text).length : text.length;
  if (size > maxSize) fail(2, 'the event is ' + size + ' bytes; the gateway accepts at most ' + maxSize + ' (maxMessageSize)');
  return text;
}

export const authFrame = (token) => JSON.stringify({ type: 'auth', token });
export const pongFrame = () => '{"type":"pong"}';
export const unsubscribeFrame = (features) => JSON.stringify({ type: 'unsubscribe', features });
/** `subscribe`, with the position of each feature that has one (parallel arrays). */
export function subscribeFrame(features, posFeatures, posEpochs, posSeqs, info) {
  const frame = { type: 'subscribe', features };
  if (posFeatures.length) {
    frame.positions = {};
    posFeatures.forEach((f, i) => (frame.positions[f] = { epoch: posEpochs[i], seq: posSeqs[i] }));
  }
  if (info !== undefined) frame.info = info;
  return JSON.stringify(frame);
}

const STATUS = ['connected', 'disconnected', 'reconnecting', 'connecting'];
// Returned as text: a function of numbers only would be imported raw, and wasm-bindgen names
// every raw import of one module separately (bundlers then warn of duplicate keys).
export const statusName = (i) => STATUS[i];

/** The `onError` event for a socket that closed before it opened. The browser hides the HTTP
 *  status of a refused handshake, so the message names the usual causes. */
export function unreachable(url) {
  const origin = typeof location === 'undefined' ? 'this page' : location.origin;
  return {
    kind: 'unreachable',
    url,
    message:
      'could not open a WebSocket to ' + url + ': the gateway is not running there, or it refused the handshake ' +
      '(is ' + origin + ' in its --cors-origin? it logs refused origins). Retrying.',
  };
}

/** `statusReason`: 0 client, 1 offline, 2 maxAttempts, 3 rejected. */
export function stopReason(kind, n, text) {
  return [{ kind: 'client' }, { kind: 'offline' }, { kind: 'maxAttempts', attempts: n }, { kind: 'rejected', code: n, reason: text }][kind];
}

/** `stats()` from the counters, in `ClientStats` order. */
export function clientStats(framesReceived, eventsDelivered, invalidFrames, callbackErrors, connects, gaps, duplicates, resyncs, leader) {
  return { framesReceived, eventsDelivered, invalidFrames, callbackErrors, connects, gaps, duplicates, resyncs, leader };
}

/** `onError` events built from wasm: 0 a callback threw while `event` was delivered, 1 the token function failed. */
export function errorEvent(kind, event, thrown) {
  return kind === 0 ? { kind: 'callback', event, message: describe(thrown) } : { kind: 'token', message: describe(thrown) };
}

/** `StoreOptions`, checked; the store reads the fields it needs. */
export function storeOptions(o) {
  if (o === undefined || o === null) o = {};
  const hooks = ['onCreated', 'onUpdated', 'onDeleted', 'onAction', 'onConflict', 'onRejected', 'reload'];
  only(o, ['keyField', 'versionField', ...hooks], 'store options', 2);
  for (const f of ['keyField', 'versionField'])
    if (o[f] !== undefined && (typeof o[f] !== 'string' || o[f] === '')) fail(2, 'store option ' + f + ' must be a non-empty string');
  for (const h of hooks)
    if (o[h] !== undefined && o[h] !== null && typeof o[h] !== 'function') fail(2, 'store option ' + h + ' must be a function');
  return { ...o, keyField: o.keyField ?? 'id' };
}

const DIFF_TYPES = ['insert', 'update', 'remove', 'replace'];

/** A key: a string, or a finite number, which names the same property as its text in
 *  JavaScript's notation (so `get(1)` and `get("1")` find the same item, as property access
 *  would, and a number is looked up without making its text). */
const isKey = (key) => typeof key === 'string' || (typeof key === 'number' && Number.isFinite(key));

/** One store's keys: JS keeps the text, wasm sees a small integer per key, the key's slot in
 *  the store's ledger. A slot goes to another key only after the ledger reported it forgotten,
 *  so one the ledger still mentions cannot change meaning; slots stay dense. */
export class Keys {
  constructor() {
    // A dictionary object, not a Map: V8 finds a key there with fewer memory reads (in a
    // Map, a bucket, an entry and the stored key's text; here one probe, and a number key is
    // an element): 3x faster at 100 000 text keys (bench/probes.mjs), and in Chromium the
    // store's heap for 10 000 items went 0.42 -> 0.38 MB (the store bench). No prototype, so
    // any text is a key, `__proto__` included.
    this.ids = Object.create(null);
    this.names = [];
    this.free = [];
    this.next = 0;
  }
  /** The id of a key given by the app (a string or a number), made if new; -1 for no key. */
  id(key) {
    if (!isKey(key)) return -1;
    let id = this.ids[key];
    if (id === undefined) {
      id = this.free.length ? this.free.pop() : this.next++;
      this.ids[key] = id;
      this.names[id] = String(key);
    }
    return id;
  }
  /** The id of an item's key field, -1 without one. */
  of(item, field) {
    return item !== null && typeof item === 'object' ? this.id(item[field]) : -1;
  }
  /** The id of a key the store knows, -1 otherwise (lookups make no ids). */
  find(key) {
    const id = isKey(key) ? this.ids[key] : undefined;
    return id === undefined ? -1 : id;
  }
  name(id) {
    return this.names[id];
  }
  forget(id) {
    const text = this.names[id];
    if (text === undefined) return;
    delete this.ids[text];
    this.names[id] = undefined;
    this.free.push(id);
  }
  clear() {
    this.ids = Object.create(null);
    this.names = [];
    this.free = [];
    this.next = 0;
  }
  /** One `StoreDiff` for `onChange` (kind: 0 insert … 3 replace). */
  diff(kind, id, item) {
    const type = DIFF_TYPES[kind];
    if (kind === 3) return { type };
    return kind === 2 ? { type, id: this.name(id) } : { type, id: this.name(id), item };
  }
}

/** An item's version: a number, or an ISO date as milliseconds; NaN without one. */
export function itemVersion(item, field) {
  const v = item[field];
  return typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
}
