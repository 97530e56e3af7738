// The client's browser side: the WebSocket, the timers, the page's online/offline and
// visibility events, and the token function. It decides nothing: every event goes to the
// client (src/js/client.js), which asks the wasm session, and the client tells it what to do.
// A frame is parsed and checked here (envelope.js); an event enters wasm in one call with
// numbers only: its names are the client's interned ids (a name crosses once).
import { Envelope } from './envelope.js';

export class Wire {
  constructor(client) {
    this.inlet = client;
    /** With `shareAcrossTabs`: a promise of the Sharing (share.js), then the Sharing itself
     *  (undefined where the browser cannot share); sockets are then virtual. */
    this.sharing = undefined;
    this.env = new Envelope();
    /** The previous event's names (feature, entity, action, epoch) and the client's ids of them. */
    this.seen = [undefined, undefined, undefined, undefined];
    this.seenIds = [0, 0, 0, 0];
    this.stamped = undefined;
    this.ws = null;
    this.gen = 0;
    this.timers = [];
    const page = (kind) => () => this.inlet._page(kind);
    const visible = () => document.visibilityState === 'visible' && this.inlet._page(2);
    this.listeners = [];
    if (typeof window !== 'undefined') this.listeners.push([window, 'online', page(0)], [window, 'offline', page(1)]);
    if (typeof document !== 'undefined') this.listeners.push([document, 'visibilitychange', visible]);
    for (const [target, kind, f] of this.listeners) target.addEventListener(kind, f);
  }
  /** Fetches a token if `token` is a function, then opens socket `gen` (never synchronously). */
  async open(gen, url, token) {
    await undefined;
    if (this.sharing instanceof Promise) this.sharing = await this.sharing;
    // A follower tab's socket goes through the leader, whose own token authenticates it.
    if (this.sharing && !this.sharing.leading) token = undefined;
    if (typeof token === 'function') {
      try {
        token = await token();
        if (typeof token !== 'string') throw 'the token function must return a string';
      } catch (thrown) {
        this.inlet._tokenFailed(gen, thrown);
        return;
      }
    }
    if (!this.inlet || !this.inlet._tokenFor(gen, token)) return; // disconnected or replaced meanwhile
    let ws;
    try {
      ws = this.sharing ? this.sharing.socket() : new WebSocket(url);
    } catch {
      this.inlet._closed(gen, 1006, '');
      return;
    }
    this.close(this.gen);
    this.ws = ws;
    this.gen = gen;
    this.stamped = undefined;
    ws.onopen = () => this.inlet._opened(gen);
    // No onerror: the browser always follows an error with a close event.
    ws.onclose = (e) => this.gone(gen) && this.inlet._closed(gen, e.code, e.reason);
    ws.onmessage = (e) => this.message(gen, e.data, e.timeStamp);
  }
  gone(gen) {
    if (gen === this.gen) this.ws = null;
    return true;
  }
  /** Frame `text` of socket `gen`, which arrived at `t`: the message event's timeStamp is the
   *  session's clock without a clock call per frame, once a socket's first frame showed that
   *  it is the page's clock (old browsers stamp events with the wall clock or the system's
   *  uptime; a relayed frame has no stamp). */
  message(gen, text, t) {
    if (this.stamped !== true) {
      const now = performance.now();
      this.stamped ??= t > 0 && Math.abs(now - t) < 1000;
      if (!this.stamped) t = now;
    }
    const env = this.env;
    const code = env.parse(text);
    // A socket that delivers while the client is busy with it (from inside `send`, say) is
    // heard again in a microtask, in order.
    if (!(code >= 0 ? this.event(gen, code, false, t) : this.inlet._frame(gen, code, t))) {
      queueMicrotask(() => this.message(gen, text, t));
      return;
    }
    if (code === -3) {
      // The batch frame counted as a sign of life; its events follow, each checked alone.
      for (let i = 0, n = env.count(); i < n; i++) {
        const c = env.item(i);
        if (c >= 0) this.event(gen, c, true, t);
        else this.inlet._invalid();
      }
    }
  }
  event(gen, code, inBatch, t) {
    const m = this.env.message();
    const epoch = code & 32 ? this.id(3, m.epoch) : -1;
    const seq = code & 16 ? Math.floor(code / 64) : -1;
    return this.inlet._event(gen, this.id(0, m.feature), this.id(1, m.entity), this.id(2, m.action), seq, epoch, m, m.data, inBatch, t);
  }
  /** The client's id of an event's name `i` (feature, entity, action, epoch): most events
   *  repeat the previous one's names, and an id never changes. */
  id(i, name) {
    if (this.seen[i] !== name) {
      this.seen[i] = name;
      this.seenIds[i] = this.inlet._id(name);
    }
    return this.seenIds[i];
  }
  /** Sends a text frame; false if there is no open socket. */
  send(text) {
    try {
      if (!this.ws) return false;
      this.ws.send(text);
      return true;
    } catch {
      return false;
    }
  }
  /** Closes socket `gen` and detaches it, so it can never call back. */
  close(gen) {
    const ws = this.ws;
    if (!ws || gen !== this.gen) return;
    ws.onopen = ws.onclose = ws.onmessage = null;
    this.ws = null;
    try {
      ws.close(1000);
    } catch {}
  }
  /** Fetches a fresh token for socket `gen` (an in-band refresh). */
  async refresh(gen, provider) {
    if (this.sharing && !this.sharing.leading) return;
    try {
      const token = await provider();
      if (typeof token !== 'string') throw 'the token function must return a string';
      this.inlet._refreshed(gen, token);
    } catch (thrown) {
      this.inlet._tokenFailed(-1, thrown);
    }
  }
  timer(kind, ms) {
    clearTimeout(this.timers[kind]);
    this.timers[kind] = setTimeout(() => this.inlet._fired(kind), ms);
  }
  stop(kind) {
    clearTimeout(this.timers[kind]);
  }
  /** With `shareAcrossTabs`: whether this tab leads (false until it knows); else undefined. */
  leading() {
    return this.sharing === undefined ? undefined : this.sharing instanceof Promise ? false : this.sharing.leading;
  }
  /** Releases everything: the socket, the timers, the page listeners. */
  dispose() {
    this.close(this.gen);
    this.timers.forEach(clearTimeout);
    for (const [target, kind, f] of this.listeners) target.removeEventListener(kind, f);
    this.listeners = [];
    if (this.sharing instanceof Promise) this.sharing.then((s) => s?.dispose());
    else this.sharing?.dispose();
  }
}
