// The client's browser side, in JS: the WebSocket, the timers, the page's online/offline and
// visibility events, and the token function. It decides nothing: every event goes to the wasm
// client (`inlet`, a Rust object), and the client tells it what to do. A frame is parsed and
// checked here, and an event enters wasm in one call with numbers and references only: its
// names are looked up in a Map here (a name crosses once, the first time it is seen).
import { Envelope } from './envelope.js';

export class Wire {
  constructor(inlet) {
    this.inlet = inlet;
    this.env = new Envelope();
    this.ids = new Map();
    this.ws = null;
    this.gen = 0;
    this.timers = [];
    const page = (kind) => () => this.inlet.page(kind);
    const visible = () => document.visibilityState === 'visible' && this.inlet.page(2);
    this.listeners = [];
    if (typeof window !== 'undefined') this.listeners.push([window, 'online', page(0)], [window, 'offline', page(1)]);
    if (typeof document !== 'undefined') this.listeners.push([document, 'visibilitychange', visible]);
    for (const [target, kind, f] of this.listeners) target.addEventListener(kind, f);
  }
  envelope() {
    return this.env;
  }
  // The id of a name, interned by the wasm client the first time (-1 while it is busy).
  id(name) {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.inlet.intern(name);
      if (id >= 0) this.ids.set(name, id);
    }
    return id;
  }
  /** Fetches a token if `token` is a function, then opens socket `gen` (never synchronously). */
  async open(gen, url, token) {
    await undefined;
    if (typeof token === 'function') {
      try {
        token = await token();
        if (typeof token !== 'string') throw 'the token function must return a string';
      } catch (thrown) {
        this.inlet.tokenFailed(gen, thrown);
        return;
      }
    }
    if (!this.inlet.token(gen, token)) return; // disconnected or replaced meanwhile
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this.inlet.closed(gen, 1006, '');
      return;
    }
    this.close(this.gen);
    this.ws = ws;
    this.gen = gen;
    ws.onopen = () => this.inlet.opened(gen);
    // No onerror: the browser always follows an error with a close event.
    ws.onclose = (e) => this.gone(gen) && this.inlet.closed(gen, e.code, e.reason);
    ws.onmessage = (e) => this.message(gen, e.data);
  }
  gone(gen) {
    if (gen === this.gen) this.ws = null;
    return true;
  }
  message(gen, text) {
    const env = this.env;
    const code = env.parse(text);
    // A socket that delivers while the client is busy with it (from inside `send`, say) is
    // heard again in a microtask, in order.
    if (!(code >= 0 ? this.event(gen, code, false) : this.inlet.frame(gen, code))) {
      queueMicrotask(() => this.message(gen, text));
      return;
    }
    if (code === -3) {
      // The batch frame counted as a sign of life; its events follow, each checked alone.
      for (let i = 0, n = env.count(); i < n; i++) {
        const c = env.item(i);
        if (c >= 0) this.event(gen, c, true);
        else this.inlet.invalid();
      }
    }
  }
  event(gen, code, inBatch) {
    const m = this.env.message();
    const epoch = code & 32 ? this.id(m.epoch) : -1;
    const seq = code & 16 ? Math.floor(code / 64) : -1;
    return this.inlet.event(gen, this.id(m.feature), this.id(m.entity), this.id(m.action), seq, epoch, m, m.data, inBatch);
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
    try {
      const token = await provider();
      if (typeof token !== 'string') throw 'the token function must return a string';
      this.inlet.refreshed(gen, token);
    } catch (thrown) {
      this.inlet.tokenFailed(-1, thrown);
    }
  }
  timer(kind, ms) {
    clearTimeout(this.timers[kind]);
    this.timers[kind] = setTimeout(() => this.inlet.fired(kind), ms);
  }
  stop(kind) {
    clearTimeout(this.timers[kind]);
  }
  /** Releases everything: the socket, the timers, the page listeners, the inlet. */
  dispose() {
    this.close(this.gen);
    this.timers.forEach(clearTimeout);
    for (const [target, kind, f] of this.listeners) target.removeEventListener(kind, f);
    this.listeners = [];
    const inlet = this.inlet;
    this.inlet = null;
    inlet.free();
  }
}
