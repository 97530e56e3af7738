// `RealtimeStore<T>`: a keyed store fed by a client's subscription. Its ledger lives in the
// client's wasm `Session` and makes every decision (src/core/store/ledger.rs: which server
// changes apply, what a view is made of, what reverts, what changed in a batch); this class
// holds the items, by slot, and does what the ledger's records say: keep or drop a confirmed
// item, rebuild a view from its recipe, report conflicts, diffs and rejections, call hooks.
import { wasm, out, output, input } from './client.js';
import { Keys, checkName, describe, itemVersion, livestateError, storeOptions } from './boundary.js';

const invalid = (message) => livestateError(2, message);
const OPS = ['created', 'updated', 'deleted'];
/** Items per part of a snapshot handed to wasm. */
const PART = 2048;
const finite = (v) => (Number.isFinite(v) ? v : NaN);

export class RealtimeStore {
  /** Creates a store and subscribes it to `feature.entity` events on `client`. */
  constructor(client, feature, entity, options) {
    const o = storeOptions(options);
    checkName('feature', feature);
    checkName('entity', entity);
    this._client = client;
    this._feature = feature;
    this._key = o.keyField;
    this._version = o.versionField;
    this._hooks = o;
    this._keys = new Keys();
    this._confirmed = [];
    /** The views that are not simply the confirmed item (an optimistic change on top, or hidden
     *  by a pending delete), by slot: few, so a plain update writes one array slot, not two. */
    this._over = new Map();
    /** Each pending operation's item or patch, and its slot. */
    this._payloads = new Map();
    this._opSlots = new Map();
    this._errors = new Map();
    this._conflicts = [];
    this._rejections = [];
    this._listeners = [];
    this._items = undefined;
    this._pos = [];
    this._stale = false;
    this._rebuild = false;
    this._updated = [];
    this._added = [];
    this._size = 0;
    this._loading = false;
    this._error = undefined;
    this._invalid = 0;
    this._scheduled = false;
    this._sid = wasm.x.ls_store_new(client._c, client._id(feature), o.reload ? 1 : 0);
    client._stores.set(this._sid, this);
    this._sub = client._subscribe(feature, 1, entity, undefined, this, this._sid);
  }

  /** Reads the store record the last ledger call wrote: conflicts found (against `item`, the
   *  new confirmed item of `slot`), then the views to rebuild. */
  _record(slot, item) {
    const o = out();
    if (wasm.n === 0) return;
    let i = wasm.at + 1;
    const conflicts = o[i++];
    if (slot >= 0) {
      const old = this._confirmed[slot];
      for (let k = 0; k < conflicts; k++) this._conflict(slot, old, item, this._payloads.get(o[i + 2 * k + 1]));
      this._confirmed[slot] = item;
    }
    i += 2 * conflicts;
    const n = o[i++];
    // Per view: 16 × slot + flags (1 confirmed item kept, 2 × base, 8 patches follow); see
    // store_call in api.rs.
    for (let k = 0; k < n; k++) {
      const head = o[i++];
      const flags = head % 16;
      const s = (head - flags) / 16;
      if (!(flags & 1)) this._confirmed[s] = undefined;
      const base = (flags >> 1) & 3;
      let view = base === 0 ? undefined : base === 1 ? this._confirmed[s] : this._payloads.get(o[i++]);
      if (flags & 8) {
        const m = o[i++];
        for (let j = 0; j < m; j++) {
          const patch = this._payloads.get(o[i++]);
          if (view !== undefined && patch !== undefined) view = Object.assign({}, view, patch);
        }
      }
      if (view === this._confirmed[s]) this._over.delete(s);
      else this._over.set(s, view);
    }
  }

  /** What slot `s` shows: its confirmed item unless an optimistic change is on top. */
  _view(s) {
    return this._over.has(s) ? this._over.get(s) : this._confirmed[s];
  }

  _conflict(slot, old, next, patch) {
    if (old === undefined || patch === undefined) return;
    const fields = Object.keys(patch).filter((f) => old[f] !== next[f]);
    if (!fields.length) return;
    const side = (from) => Object.fromEntries(fields.map((f) => [f, from[f]]));
    this._conflicts.push({ id: this._keys.name(slot), fields, base: side(old), mine: side(patch), theirs: side(next) });
  }

  /** One routed event (the session chose `op` from its action); listeners hear once the batch
   *  is done. */
  _event(op, action, data, message) {
    this._apply(op, action, data, message);
    if (!this._scheduled) {
      this._scheduled = true;
      queueMicrotask(() => this._scheduled && this._flush(false));
    }
  }

  _apply(op, action, data, message) {
    if (this._sid < 0) return;
    const c = this._client._c;
    const h = this._hooks;
    if (op < 2) {
      const slot = this._keys.of(data, this._key);
      if (slot < 0) return this._refuse(action);
      const version = this._version ? finite(itemVersion(data, this._version)) : NaN;
      const applied = wasm.x.ls_store_server(c, this._sid, slot, op, version);
      // 3: nothing pending on the slot, so no view apart to rebuild (`_over` holds only slots
      // with an operation on top); 0: ignored, nothing changed.
      if (applied === 3) this._confirmed[slot] = data;
      else if (applied) this._record(slot, data);
      const hook = op === 0 ? h.onCreated : h.onUpdated;
      if (hook) this._hook(hook, data);
    } else if (op === 2) {
      // `{id}` (the seed's emitDeleted), a whole item, or a bare id.
      let slot = this._keys.of(data, this._key);
      if (slot < 0) slot = this._keys.id(data);
      if (slot < 0) return this._refuse(action);
      const version = this._version && data !== null && typeof data === 'object' ? finite(itemVersion(data, this._version)) : NaN;
      wasm.x.ls_store_deleted(c, this._sid, slot, version);
      this._record(-1);
      if (h.onDeleted) this._hook(h.onDeleted, this._keys.name(slot), data);
    } else if (h.onAction) {
      this._hook(h.onAction, action, data, message);
    }
  }

  /** Calls an app's hook; what it throws becomes the store's `error`. */
  _hook(f, a, b, c) {
    try {
      f(a, b, c);
    } catch (e) {
      this._error = 'store hook threw: ' + describe(e);
    }
  }

  _refuse(action) {
    this._invalid += 1;
    this._error = 'a ' + action + ' event without an id was ignored';
  }

  /** Ends a batch: one notification to listeners (if anything changed, or `always`), then the
   *  conflict and rejection hooks. */
  _flush(always) {
    this._scheduled = false;
    if (this._sid < 0) return;
    wasm.x.ls_store_flush(this._client._c, this._sid);
    // Read in place (kinds and slots from 1, then the forgotten slots from `g`): nothing calls
    // into wasm before the listeners, which may.
    const o = output();
    const n = o[0];
    const g = 2 + 2 * n;
    const gone = o.subarray(g, g + o[g - 1]);
    this._size = o[o.length - 1];
    const [conflicts, rejections] = [this._conflicts, this._rejections];
    this._conflicts = [];
    this._rejections = [];
    if (n === 0 && !conflicts.length && !rejections.length && !always) return this._forget(gone);
    if (n) this._stale = true;
    // Changes to a quarter of the items or more: a new list from the ledger's order is cheaper
    // than patching each changed position.
    if (4 * (this._updated.length + this._added.length + n) > this._size) {
      this._rebuild = true;
      this._updated = [];
      this._added = [];
    }
    for (let k = 1; k < g - 1; k += 2) {
      // No destructuring in loops that run once per batch: unoptimized, it costs an iterator
      // per item (35 ms for a batch of 86 000 changes).
      const kind = o[k];
      const s = o[k + 1];
      if (kind === 0) this._pos[s] = undefined;
      if (this._rebuild) continue;
      if (kind === 1) this._updated.push(s);
      else if (kind === 0) this._added.push(s);
      else this._rebuild = true;
    }
    let diffs;
    if (this._listeners.length) {
      diffs = [];
      for (let k = 1; k < g - 1; k += 2) diffs.push(this._keys.diff(o[k], o[k + 1], this._view(o[k + 1])));
    }
    this._forget(gone);
    for (const f of this._listeners.slice()) {
      try {
        f(diffs);
      } catch {}
    }
    for (const [hook, list] of [[this._hooks.onConflict, conflicts], [this._hooks.onRejected, rejections]]) {
      if (!hook) continue;
      for (const v of list) {
        try {
          hook(v);
        } catch {}
      }
    }
  }

  /** Slots the ledger forgot: their key text, items and errors go. */
  _forget(slots) {
    for (let k = 0; k < slots.length; k++) {
      const s = slots[k];
      this._keys.forget(s);
      this._confirmed[s] = this._pos[s] = undefined;
      this._over.delete(s);
      this._errors.delete(s);
    }
  }

  /** Events of this store's feature were lost for good: reload (the session decided that the
   *  store can), or say so. */
  _resync(reload) {
    const f = this._hooks.reload;
    if (reload && f) {
      let items;
      try {
        items = f();
      } catch (e) {
        this._error = 'reload threw: ' + describe(e);
        return this._flush(true);
      }
      this.load(items).catch(() => {});
      return;
    }
    this._error = 'events of ' + this._feature + ' were lost; give the store a reload() to resync';
    this._flush(true);
  }

  items() {
    if (this._items && !this._stale) return this._items;
    if (this._items && !this._rebuild) {
      // A new array (so `computed()` and `@for` see a change), copied from the previous one
      // with only the changed positions rewritten and new items appended. Indexed loops: these
      // run once per batch, unoptimized, where for-of pays for an iterator result per item.
      const list = this._items.slice();
      const [updated, added] = [this._updated, this._added];
      for (let k = 0; k < updated.length; k++) {
        const s = updated[k];
        const i = this._pos[s];
        const v = this._view(s);
        if (i !== undefined && v !== undefined) list[i] = v;
      }
      for (let k = 0; k < added.length; k++) {
        const s = added[k];
        const v = this._view(s);
        if (v !== undefined && this._pos[s] === undefined) {
          this._pos[s] = list.length;
          list.push(v);
        }
      }
      this._items = list;
    } else if (this._sid < 0) {
      this._items = [];
    } else {
      wasm.x.ls_store_visible(this._client._c, this._sid);
      const o = output();
      const list = new Array(o.length);
      for (let i = 0; i < o.length; i++) {
        list[i] = this._view(o[i]);
        this._pos[o[i]] = i;
      }
      this._items = list;
    }
    this._stale = this._rebuild = false;
    this._updated = [];
    this._added = [];
    return this._items;
  }

  get(id) {
    const s = this._keys.find(id);
    return s < 0 ? undefined : this._view(s);
  }

  _state(slot) {
    if (this._sid < 0) return [0, 0, 0, 0];
    wasm.x.ls_store_state(this._client._c, this._sid, slot);
    return output().slice();
  }

  get size() {
    return this._state(0)[0];
  }

  get pendingCount() {
    return this._state(0)[1];
  }

  get loading() {
    return this._loading;
  }

  get error() {
    return this._error;
  }

  get invalidEvents() {
    return this._invalid;
  }

  status(id) {
    const s = this._keys.find(id);
    if (s < 0) return { pending: 0 };
    const st = this._state(s);
    const out = { pending: st[2] };
    if (st[3] && this._errors.has(s)) out.error = this._errors.get(s);
    return out;
  }

  _replace(items) {
    if (!Array.isArray(items)) throw invalid('replaceAll takes an array of items');
    const slots = items.map((item) => this._keys.of(item, this._key));
    if (slots.some((s) => s < 0)) throw invalid('every item needs an id');
    if (this._sid < 0) return;
    // In parts, so neither side ever holds the whole snapshot in one buffer.
    const vf = this._version;
    const top = slots.reduce((a, b) => Math.max(a, b + 1), 0);
    for (let at = 0; at === 0 || at < items.length; at += PART) {
      const n = Math.min(PART, items.length - at);
      const buf = input(2 * n);
      for (let i = 0; i < n; i++) {
        const item = items[at + i];
        buf[2 * i] = slots[at + i];
        buf[2 * i + 1] = vf ? finite(itemVersion(item, vf)) : NaN;
        // In place before the views that show it are rebuilt.
        this._confirmed[slots[at + i]] = item;
      }
      wasm.x.ls_store_replace(this._client._c, this._sid, n, top, (at === 0 ? 1 : 0) + (at + PART >= items.length ? 2 : 0));
      this._record(-1);
    }
    this._error = undefined;
  }

  replaceAll(items) {
    this._replace(items);
    this._flush(false);
  }

  load(items) {
    if (!(items instanceof Promise)) {
      try {
        this._replace(items);
      } catch (e) {
        this._flush(false);
        return Promise.reject(e);
      }
      this._flush(false);
      return Promise.resolve();
    }
    this._loading = true;
    this._flush(true);
    return items.then(
      (list) => {
        this._loading = false;
        try {
          this._replace(list);
        } finally {
          this._flush(true);
        }
      },
      (e) => {
        this._loading = false;
        this._error = describe(e);
        this._flush(true);
        throw e;
      },
    );
  }

  applyBatch(events) {
    if (!Array.isArray(events)) throw invalid('applyBatch takes an array of {action, data}');
    for (const ev of events) {
      const action = ev === null || typeof ev !== 'object' ? undefined : ev.action;
      if (typeof action !== 'string') throw invalid('each event needs a string action');
      const op = OPS.indexOf(action);
      this._apply(op < 0 ? 3 : op, action, ev.data, undefined);
    }
    this._flush(false);
  }

  _slot(id) {
    const s = this._keys.id(id);
    if (s < 0) throw invalid('id must be a string or a number');
    return s;
  }

  performOptimisticUpdate(id, patch, apiCall) {
    const s = this._slot(id);
    if (patch === null || typeof patch !== 'object') throw invalid('patch must be an object');
    return this._run(s, 1, patch, apiCall);
  }

  performOptimisticCreate(item, apiCall) {
    const s = this._keys.of(item, this._key);
    if (s < 0) throw invalid('the item needs an id (a temporary one is fine)');
    return this._run(s, 0, item, apiCall);
  }

  performOptimisticDelete(id, apiCall) {
    return this._run(this._slot(id), 2, undefined, apiCall);
  }

  /** Starts operation `kind` on `slot`, calls the API, then settles the operation with its
   *  outcome; the promise settles as the API call did. */
  _run(slot, kind, payload, apiCall) {
    let op = -1;
    if (this._sid >= 0) {
      op = wasm.x.ls_store_begin(this._client._c, this._sid, slot, kind);
      // In place before the views that show it are rebuilt.
      this._payloads.set(op, payload);
      this._opSlots.set(op, slot);
      this._record(-1);
      this._flush(false);
    }
    let called;
    try {
      called = apiCall();
    } catch (e) {
      called = Promise.reject(e);
    }
    return Promise.resolve(called).then(
      (v) => {
        this._done(op, true, v);
        return v;
      },
      (e) => {
        this._done(op, false, e);
        throw e;
      },
    );
  }

  _done(op, ok, v) {
    if (this._sid < 0 || !this._opSlots.has(op)) return; // disposed meanwhile
    const c = this._client._c;
    const payload = this._payloads.get(op);
    if (ok) {
      // The API's result counts only if it is an item with a key.
      const slot = v !== null && typeof v === 'object' ? this._keys.of(v, this._key) : -1;
      const version = slot >= 0 && this._version ? finite(itemVersion(v, this._version)) : NaN;
      this._errors.delete(this._opSlots.get(op));
      const r = wasm.x.ls_store_succeed(c, this._sid, op, slot, version);
      if (r <= 0) this._record(-1);
      else {
        // 1 + 3 × slot + what to confirm: the result, the patch merged, or the created item.
        const k = (r - 1) % 3;
        const s = (r - 1 - k) / 3;
        this._record(s, k === 0 ? v : k === 1 ? Object.assign({}, this._confirmed[s], payload) : payload);
      }
    } else {
      const message = describe(v);
      this._error = message;
      const s = wasm.x.ls_store_fail(c, this._sid, op);
      if (s >= 0) {
        this._errors.set(s, message);
        this._rejections.push({ id: this._keys.name(s), message });
      }
      this._record(-1);
    }
    this._payloads.delete(op);
    this._opSlots.delete(op);
    this._flush(false);
  }

  onChange(callback) {
    this._listeners.push(callback);
    return () => {
      const i = this._listeners.indexOf(callback);
      if (i >= 0) this._listeners.splice(i, 1);
    };
  }

  /** Unsubscribes from the client and releases everything; the store is empty after. */
  dispose() {
    if (this._sid < 0) return;
    this._sub.unsubscribe();
    this._client._stores.delete(this._sid);
    if (this._client._c >= 0) wasm.x.ls_store_free(this._client._c, this._sid);
    this._sid = -1;
    this._keys.clear();
    this._confirmed = [];
    this._over.clear();
    this._payloads.clear();
    this._opSlots.clear();
    this._errors.clear();
    this._listeners = [];
    this._hooks = {};
    this._items = undefined;
    this._pos = [];
  }

  free() {
    this.dispose();
  }
}
