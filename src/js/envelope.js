// The hot path of every frame, on the JS side of the boundary: JSON.parse and the checks of an
// event's envelope, so that nothing but one number crosses into wasm for a typical event. Names
// (feature, entity, action, epoch) cross only when they differ from the previous event's.
//
// parse(text) / event(object) return:
//   >= 0  a well-formed event: flags in the low 6 bits (1 feature, 2 entity, 4 action and
//         8 epoch changed; 16 has seq; 32 has epoch), the seq above them (value / 64)
//   -1    not a string (binary)    -2  not JSON (message() is the error)
//   -3    not a JSON object        -4  an object, but not an event: decode it in Rust
//   -5    an event that breaks a rule: decode it in Rust for the precise error
export class Envelope {
  constructor() {
    this.m = undefined;
    this.reset();
  }
  reset() {
    this.f = this.e = this.a = this.p = undefined;
  }
  parse(text) {
    if (typeof text !== 'string') return -1;
    try {
      this.m = JSON.parse(text);
    } catch (err) {
      this.m = err;
      return -2;
    }
    const m = this.m;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return -3;
    return m.type === 'event' ? this.check(m) : -4;
  }
  event(m) {
    this.m = m;
    return m !== null && typeof m === 'object' && !Array.isArray(m) ? this.check(m) : -5;
  }
  check(m) {
    const { feature, entity, action, seq, epoch } = m;
    if (typeof feature !== 'string' || typeof entity !== 'string' || typeof action !== 'string') return -5;
    if (m.data === undefined || m.meta === null || typeof m.meta !== 'object') return -5;
    if (seq !== undefined && !(Number.isInteger(seq) && seq >= 0 && seq < 2 ** 46)) return -5;
    if (epoch !== undefined && typeof epoch !== 'string') return -5;
    let flags = 0;
    if (feature !== this.f) { this.f = feature; flags |= 1; }
    if (entity !== this.e) { this.e = entity; flags |= 2; }
    if (action !== this.a) { this.a = action; flags |= 4; }
    if (epoch !== undefined) {
      flags |= 32;
      if (epoch !== this.p) { this.p = epoch; flags |= 8; }
    }
    if (seq === undefined) return flags;
    return flags + 16 + seq * 64;
  }
  message() { return this.m; }
  feature() { return this.f; }
  entity() { return this.e; }
  action() { return this.a; }
  epoch() { return this.p; }
}

const DIFF_TYPES = ['insert', 'update', 'remove', 'replace'];

/** One `StoreDiff` for `onChange`, built here in one call (kind: 0 insert … 3 replace). */
export function storeDiff(kind, id, item) {
  const type = DIFF_TYPES[kind];
  if (kind === 3) return { type };
  return kind === 2 ? { type, id } : { type, id, item };
}

/** An item's key as text (strings as they are, finite numbers in JavaScript's notation). */
export function itemKey(item, field) {
  if (item === null || typeof item !== 'object') return undefined;
  const key = item[field];
  if (typeof key === 'string') return key;
  return typeof key === 'number' && Number.isFinite(key) ? String(key) : undefined;
}

/** An item's version: a number, or an ISO date as milliseconds; NaN without one. */
export function itemVersion(item, field) {
  const v = item[field];
  return typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
}
