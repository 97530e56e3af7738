// Every frame from the gateway is parsed and checked here, on the JS side of the boundary: the
// one place that decides what a valid frame is. A name is checked only when it differs from
// the previous event's (an event stream repeats its names).
//
// parse(text), and item(i) for the i-th event of a batch, return:
//   >= 0  a well-formed event (message() is it): 16 if it has a seq, 32 if it has an epoch,
//         the seq above them (value / 64)
//   -1    invalid: report() is the `onError` event to send (the frame is dropped)
//   -2    a control frame: kind() says which (see KINDS), read with the accessors below
//   -3    a batch: count() events, read one by one with item(i)

const NAME = /^[a-z0-9_-]{1,64}$/;
/** The rule every feature, entity and action name follows (docs/protocol.md). */
export const nameRule = (field) => field + " must be 1 to 64 characters of a-z, 0-9, '_' or '-'";
/** True for a valid feature, entity or action name. */
export const validName = (name) => typeof name === 'string' && NAME.test(name);

// Control frames, by number (client.js `_control` reads them by it).
const KINDS = ['welcome', 'heartbeat', 'authenticated', 'gap', 'subscribed', 'unsubscribed', 'error', 'presence', 'join', 'leave'];
const SEQ_LIMIT = 2 ** 46; // seq * 64 stays an exact double

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isMember = (m) => isObject(m) && typeof m.connectionId === 'string' && typeof m.userId === 'string';
const whole = (v, limit) => Number.isInteger(v) && v >= 0 && v < limit;

export class Envelope {
  constructor() {
    this.m = this.b = this.x = this.r = undefined;
    this.reset();
  }
  // Forget the names: the next event's are all checked again.
  reset() {
    this.f = this.e = this.a = undefined;
  }
  bad(reason, frame) {
    this.reset();
    this.r = { kind: 'invalidFrame', reason, frame: typeof frame === 'string' ? frame.slice(0, 200) : '(binary)' };
    return -1;
  }
  parse(text) {
    if (typeof text !== 'string') return this.bad('binary frames are not part of the protocol', text);
    let m;
    try {
      m = JSON.parse(text);
    } catch (err) {
      return this.bad('not JSON: ' + err.message, text);
    }
    this.t = text;
    if (!isObject(m)) return this.bad('a frame must be a JSON object', text);
    if (m.type === 'event') return this.check(m);
    if (m.type === 'batch') {
      if (!Array.isArray(m.events)) return this.bad('batch: `events` must be an array', text);
      this.b = m.events;
      return -3;
    }
    return this.control(m, text);
  }
  count() {
    return this.b.length;
  }
  item(i) {
    const m = this.b[i];
    return isObject(m) ? this.check(m) : this.bad('event: not an object', this.t);
  }
  check(m) {
    this.m = m;
    const { feature, entity, action, seq, epoch } = m;
    const why =
      this.name('feature', feature, this.f) ||
      this.name('entity', entity, this.e) ||
      this.name('action', action, this.a) ||
      (m.data === undefined && 'missing `data`') ||
      (!isObject(m.meta) && 'missing `meta` object') ||
      (seq !== undefined && !whole(seq, SEQ_LIMIT) && '`seq` must be a whole number below 2^46') ||
      (epoch !== undefined && typeof epoch !== 'string' && '`epoch` must be a string');
    if (why) return this.bad('event: ' + why, this.t);
    [this.f, this.e, this.a] = [feature, entity, action];
    const flags = epoch === undefined ? 0 : 32;
    return seq === undefined ? flags : flags + 16 + seq * 64;
  }
  // A name is checked only when it differs from the previous event's (already checked).
  name(field, v, last) {
    if (typeof v !== 'string') return '`' + field + '` must be a string';
    return v === last || NAME.test(v) ? '' : nameRule(field);
  }
  control(m, text) {
    const k = KINDS.indexOf(m.type);
    const n = (v) => (v === undefined ? NaN : whole(v, 2 ** 53) ? v : -1);
    this.x = m;
    switch (k) {
      case -1:
        return this.bad(typeof m.type === 'string' ? 'unknown frame type "' + m.type + '"' : 'a frame needs a string `type`', text);
      case 0:
        if (typeof m.connectionId !== 'string' || !whole(m.heartbeat, 2 ** 32) || n(m.tokenExpiresIn) < 0)
          return this.bad('welcome: needs a string `connectionId`, a whole `heartbeat` and an optional whole `tokenExpiresIn`', text);
        break;
      case 2:
        if (n(m.tokenExpiresIn) < 0) return this.bad('authenticated: `tokenExpiresIn` must be a whole number', text);
        break;
      case 3:
        if (!Array.isArray(m.features)) return this.bad('gap: `features` must be an array', text);
        this.l = m.features.filter((f) => typeof f === 'string');
        this.r = { kind: 'gap', features: this.l };
        break;
      case 4: {
        const s = m.streams === undefined ? {} : m.streams;
        const ok = (v) => isObject(v) && typeof v.epoch === 'string' && whole(v.seq, 2 ** 53) && [undefined, true, false].includes(v.recovered);
        if (!Array.isArray(m.features) || !isObject(s) || !Object.values(s).every(ok))
          return this.bad('subscribed: needs `features`, and `streams` mapping features to {epoch, seq, recovered?}', text);
        this.l = Object.keys(s);
        this.s = s;
        break;
      }
      case 6:
        if (typeof m.code !== 'string' || typeof m.message !== 'string' || (m.feature !== undefined && typeof m.feature !== 'string'))
          return this.bad('error frame: needs a string `code` and `message`', text);
        this.r = { kind: 'server', code: m.code, message: m.message };
        if (m.feature !== undefined) this.r.feature = m.feature;
        break;
      case 5:
        this.l = Array.isArray(m.features) ? m.features : [];
        break;
      case 7:
      case 8:
      case 9:
        if (!validName(m.feature) || !(k > 7 ? isMember(m.member) : Array.isArray(m.members) && m.members.every(isMember)))
          return this.bad(m.type + ': needs a `feature` and members with string `connectionId` and `userId`', text);
    }
    return -2;
  }
  /** The control frame itself is `x` (subscribed: `x.features`; presence, join, leave). */
  kind() { return KINDS.indexOf(this.x.type); }
  /** welcome: the heartbeat interval. */
  heartbeat() { return this.x.heartbeat; }
  /** welcome and authenticated: ms until the token expires, NaN without one. */
  tokenMs() { const v = this.x.tokenExpiresIn; return v === undefined ? NaN : v; }
  /** gap and unsubscribed: the features; subscribed: the features with a stream. */
  list() { return this.l; }

  /** subscribed: one feature's stream. */
  epochOf(f) { return this.s[f].epoch; }
  seqOf(f) { return this.s[f].seq; }
  /** 1 recovered, 0 not recovered, -1 no position was asked for. */
  recoveredOf(f) { const r = this.s[f].recovered; return r === undefined ? -1 : +r; }
  /** The `onError` event of the last invalid frame, or of a `gap` or `error` frame. */
  report() { return this.r; }
  message() { return this.m; }
}
