// Cross-tab sharing (`shareAcrossTabs`): the tabs of one origin that use the same gateway URL
// and connection key share one WebSocket. The tab holding a Web Lock leads: its Hub owns the
// real socket. Every tab, the leader included, keeps its own client and Session and talks to
// the Hub through a virtual socket (`TabSocket`, with the WebSocket's shape, so wire.js and the
// Session do not change): locally in the leader, over a BroadcastChannel elsewhere. Each tab's
// Session keeps its own position per feature, so after a handover each tab resumes from where
// it is and drops what it already has; the Hub only unions subscriptions (reference-counted
// per virtual socket), routes frames to the sockets that asked, and answers heartbeats once.

const BEAT_MS = 1000;
/** Leader silence after which a follower takes the lead (a frozen or hung leader tab). */
const SILENCE_MS = 4000;
const uid = () => Math.random().toString(36).slice(2, 10) + Date.now().toString(36);

/** Whether this browser can share (Web Locks and BroadcastChannel); else each tab connects alone. */
export const canShare = () => typeof BroadcastChannel === 'function' && typeof navigator !== 'undefined' && !!navigator.locks;

export class Sharing {
  /** `client` gives the token for the real socket while this tab leads; `log` as the client's. */
  constructor(key, url, client) {
    this.name = 'livestate:' + key + ':' + url;
    this.url = url;
    this.client = client;
    this.tab = uid();
    /** The leader's tab id and when it took the lead (a later lead wins: a thawed ex-leader
     *  may still say it leads before it learns otherwise). */
    this.leader = undefined;
    this.since = 0;
    this.heard = 0;
    this.pinged = 0;
    /** Set while the page is frozen (Page Lifecycle): requests heard then are stale. */
    this.frozen = false;
    this.hub = undefined;
    this.disposed = false;
    this.waiting = undefined;
    /** This tab's virtual sockets by id (one at a time, as the wire has one socket). */
    this.sockets = new Map();
    this.channel = new BroadcastChannel(this.name);
    this.channel.onmessage = (e) => this.message(e.data);
    this.stop = new AbortController();
    // Held for the tab's life: the Hub learns that a tab is gone when it can take this lock.
    // Sockets ask a leader only once it is held, or the Hub could take it first and take the
    // tab for gone.
    this.alive = false;
    navigator.locks.request(this.name + ':tab:' + this.tab, { signal: this.stop.signal }, () => {
      this.alive = true;
      for (const s of [...this.sockets.values()]) s.ask();
      return new Promise(() => {});
    }).catch(() => {});
    this.campaign(false);
    this.channel.postMessage({ t: 'who' });
    this.watch = setInterval(() => this.tick(), BEAT_MS);
    this.lifecycle = [
      // A frozen page runs no timers (no token refresh, no heartbeat timeout, no backoff) and
      // may be discarded without notice: a leader hands the lead over before it freezes, and
      // a frozen tab does not campaign until it resumes.
      ['freeze', () => {
        this.frozen = true;
        this.waiting?.abort();
        this.waiting = undefined;
        if (this.leading) this.follow();
      }],
      ['resume', () => {
        this.frozen = false;
        if (!this.leading && !this.disposed) this.campaign(false);
      }],
    ];
    if (typeof document !== 'undefined') for (const [kind, f] of this.lifecycle) document.addEventListener(kind, f);
  }

  /** Queues for the lead (or takes it from a silent leader); leads once granted. */
  campaign(steal) {
    this.waiting?.abort();
    const waiting = (this.waiting = new AbortController());
    const options = steal ? { steal: true } : { signal: waiting.signal };
    navigator.locks.request(this.name, options, () => {
      this.lead();
      return new Promise((resolve) => (this.resign = resolve));
    }).catch(() => {
      // Replaced by a newer campaign, disposed, or the lock was stolen from this tab (it was
      // frozen or hung): only the last means follow and queue again.
      if (this.waiting !== waiting || this.disposed) return;
      if (this.leading) this.follow();
      this.campaign(false);
    });
  }

  lead() {
    this.leader = this.tab;
    this.since = Date.now();
    this.hub = new Hub(this);
    this.beat();
    // A socket of this tab attached to the old leader reconnects, now to the Hub here; one
    // still waiting for a leader attaches here at once.
    for (const s of [...this.sockets.values()]) s.newLeader();
    this.client._log && this.client._log('shared connection: this tab leads');
  }

  /** Stops leading: the Hub closes the real socket, and this tab's sockets reconnect. */
  follow() {
    this.leader = undefined;
    this.hub?.dispose();
    this.hub = undefined;
    this.resign?.();
    for (const s of [...this.sockets.values()]) s.lost();
    this.client._log && this.client._log('shared connection: this tab follows');
  }

  /** This tab leads while it has a Hub. */
  get leading() {
    return this.hub !== undefined;
  }

  beat() {
    this.channel.postMessage({ t: 'beat', leader: this.tab, since: this.since });
  }

  /** Every second (or less often in a throttled background tab): the leader beats; a
   *  follower that has not heard the leader for a while asks it, and if it still says nothing
   *  (frozen or hung, yet holding the lock), takes the lead from it. Asking first keeps a
   *  leader whose timers the browser throttles, but which answers messages, in place. */
  tick() {
    if (this.leading) return this.beat();
    if (this.leader === undefined) return;
    const now = Date.now();
    if (now - this.heard <= SILENCE_MS) return;
    if (!this.pinged) {
      this.pinged = now;
      this.channel.postMessage({ t: 'who' });
      return;
    }
    if (now - this.pinged < SILENCE_MS / 2) return;
    this.leader = undefined;
    this.pinged = 0;
    // One follower (the one that gets the steal lock) takes over.
    navigator.locks.request(this.name + ':steal', { ifAvailable: true }, async (lock) => {
      if (!lock || this.leading || this.disposed) return;
      this.client._log && this.client._log('shared connection: the leader is silent; taking over');
      this.campaign(true);
      await new Promise((r) => setTimeout(r, SILENCE_MS));
    }).catch(() => {});
  }

  message(m) {
    if (m.t === 'beat') {
      this.pinged = 0;
      if (m.leader === this.leader) this.heard = Date.now();
      else if (!this.leading && m.since >= this.since) {
        this.leader = m.leader;
        this.since = m.since;
        this.heard = Date.now();
        // A new leader: sockets attached to the old one are lost; waiting ones ask it now.
        for (const s of [...this.sockets.values()]) s.newLeader();
      }
    } else if (m.t === 'who') {
      if (this.leading) this.beat();
    } else if (m.t === 'to') {
      for (const id of m.to) this.sockets.get(id)?.receive(m);
    } else if (this.hub && m.leader === this.tab && !this.frozen) {
      this.hub.request(m);
    }
  }

  /** A virtual socket for the wire. */
  socket() {
    return new TabSocket(this);
  }

  dispose() {
    this.disposed = true;
    clearInterval(this.watch);
    this.stop.abort();
    this.waiting?.abort();
    if (this.leading) this.follow();
    this.channel.close();
    if (typeof document !== 'undefined') for (const [kind, f] of this.lifecycle) document.removeEventListener(kind, f);
  }
}

/** One virtual WebSocket of this tab: `onopen`, `onmessage`, `onclose`, `send`, `close`. */
class TabSocket {
  constructor(sharing) {
    this.sharing = sharing;
    this.id = sharing.tab + ':' + uid();
    this.state = 0; // 0 asked, 1 open, 2 closed
    this.via = undefined;
    this.onopen = this.onmessage = this.onclose = null;
    sharing.sockets.set(this.id, this);
    queueMicrotask(() => this.ask());
  }

  /** Asks the leader to attach this socket; with no leader known yet, the next beat asks. */
  ask() {
    const s = this.sharing;
    if (this.state !== 0 || !s.alive) return;
    this.via = s.leader;
    if (s.hub) s.hub.attach(this.id, s.tab, (m) => this.receive({ ...m, from: s.tab }));
    else if (s.leader !== undefined) s.channel.postMessage({ t: 'open', leader: s.leader, id: this.id, tab: s.tab });
  }

  receive(m) {
    // Only the leader this socket asked speaks for it (an ex-leader may still relay a while).
    if (this.state === 2 || m.from !== this.via) return;
    if (m.k === 'open') {
      if (this.state !== 0) return;
      this.state = 1;
      this.onopen?.();
    } else if (m.k === 'frame') {
      this.onmessage?.({ data: m.d });
    } else if (m.k === 'close') {
      this.end(m.code, m.reason);
    }
  }

  newLeader() {
    if (this.state === 0) this.ask();
    else if (this.state === 1 && this.via !== this.sharing.leader) this.lost();
  }

  /** The leader this socket went through is gone. */
  lost() {
    this.end(1006, '');
  }

  end(code, reason) {
    if (this.state === 2) return;
    this.state = 2;
    this.sharing.sockets.delete(this.id);
    this.onclose?.({ code, reason });
  }

  send(text) {
    if (this.state !== 1) throw new Error('not open');
    const s = this.sharing;
    if (s.hub) {
      if (!s.hub.from(this.id, text)) throw new Error('not open');
    } else s.channel.postMessage({ t: 'send', leader: this.via, id: this.id, d: text });
  }

  close() {
    if (this.state === 2) return;
    const s = this.sharing;
    this.state = 2;
    s.sockets.delete(this.id);
    if (s.hub) s.hub.detach(this.id);
    else s.channel.postMessage({ t: 'close', leader: this.via, id: this.id });
  }
}

/** The leader's side: the one real WebSocket, and the virtual sockets of every tab. */
export class Hub {
  constructor(sharing) {
    this.sharing = sharing;
    this.ws = null;
    this.welcome = undefined;
    /** Virtual socket id to { tab, post, ready }. */
    this.socks = new Map();
    /** Feature to the ids of the sockets subscribed to it. */
    this.features = new Map();
    /** Forwarded subscribes awaiting their reply, in order: [socket id, Set of features]. */
    this.pending = [];
    /** Feature to its presence as the gateway last said (connection id to member), for a
     *  socket that subscribes it after another: the gateway sends a snapshot only once. */
    this.presence = new Map();
    this.watched = new Map();
    this.stop = new AbortController();
  }

  /** A request from a follower tab. */
  request(m) {
    if (m.t === 'open') this.attach(m.id, m.tab, (r) => this.sharing.channel.postMessage({ t: 'to', from: this.sharing.tab, to: [m.id], ...r }));
    else if (m.t === 'send') this.from(m.id, m.d);
    else if (m.t === 'close') this.detach(m.id);
  }

  attach(id, tab, post) {
    if (this.socks.has(id)) return;
    this.socks.set(id, { tab, post, ready: false });
    this.watchTab(tab);
    if (this.welcome !== undefined) this.ready(id);
    else this.open();
  }

  /** Releases a follower tab's sockets when it closes or crashes: its lock is then free. */
  watchTab(tab) {
    if (tab === this.sharing.tab || this.watched.has(tab)) return;
    this.watched.set(tab, true);
    navigator.locks.request(this.sharing.name + ':tab:' + tab, { signal: this.stop.signal }, () => {
      this.watched.delete(tab);
      this.sharing.client._log && this.sharing.client._log('shared connection: tab ' + tab + ' is gone');
      for (const [id, s] of [...this.socks]) if (s.tab === tab) this.detach(id, true);
    }).catch(() => {});
  }

  ready(id) {
    const s = this.socks.get(id);
    if (!s || s.ready) return;
    s.ready = true;
    s.post({ k: 'open' });
    s.post({ k: 'frame', d: this.welcome });
  }

  async open() {
    if (this.ws) return;
    const client = this.sharing.client;
    const ws = new WebSocket(this.sharing.url);
    this.ws = ws;
    ws.onopen = async () => {
      let token = client._token;
      try {
        if (typeof token === 'function') token = await token();
      } catch {
        token = undefined;
      }
      if (this.ws === ws && typeof token === 'string') ws.send(JSON.stringify({ type: 'auth', token }));
    };
    ws.onmessage = (e) => this.frame(e.data);
    ws.onclose = (e) => this.ws === ws && this.closed(e.code, e.reason);
  }

  /** The real socket closed: every virtual socket closes with it (and each tab reconnects). */
  closed(code, reason) {
    this.ws = null;
    this.welcome = undefined;
    this.features.clear();
    this.pending = [];
    this.presence.clear();
    const socks = [...this.socks.values()];
    this.socks.clear();
    for (const s of socks) s.post({ k: 'close', code, reason });
  }

  /** A frame from the gateway, to the sockets it concerns. */
  frame(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return this.post(this.all(), text);
    }
    switch (m?.type) {
      case 'event':
        return this.post(this.subscribers([m.feature]), text);
      case 'batch':
        return this.post(this.subscribers(Array.isArray(m.events) ? m.events.map((e) => e?.feature) : []), text);
      case 'heartbeat':
        this.ws?.send('{"type":"pong"}');
        return this.post(this.all(), text);
      case 'welcome':
        this.welcome = text;
        for (const id of this.socks.keys()) this.ready(id);
        return;
      case 'authenticated':
        return this.post(this.all().filter((id) => this.socks.get(id).tab === this.sharing.tab), text);
      case 'gap':
        return this.post(this.subscribers(Array.isArray(m.features) ? m.features : []), text);
      case 'subscribed': {
        const features = Array.isArray(m.features) ? m.features : [];
        const asked = this.answer(features, true);
        for (const f of features) {
          const p = this.presence.get(f);
          if (p) this.post(asked, JSON.stringify({ type: 'presence', feature: f, members: [...p.values()] }));
        }
        return this.post(asked, text);
      }
      case 'presence':
      case 'join':
      case 'leave':
        this.track(m);
        return this.post(this.subscribers([m.feature]), text);
      case 'unsubscribed':
        return;
      case 'error':
        if (typeof m.feature === 'string') {
          // A refusal answers the socket that asked for the feature, which no longer holds it.
          const asked = this.answer([m.feature], false);
          for (const id of asked) this.leave(m.feature, id);
          return this.post(asked.length ? asked : this.subscribers([m.feature]), text);
        }
        return this.post(this.all(), text);
      default:
        return this.post(this.all(), text);
    }
  }

  /** Keeps a feature's members for the sockets that subscribe it later. */
  track(m) {
    if (typeof m.feature !== 'string') return;
    if (m.type === 'presence') {
      if (Array.isArray(m.members)) this.presence.set(m.feature, new Map(m.members.map((x) => [x?.connectionId, x])));
      return;
    }
    const p = this.presence.get(m.feature);
    if (!p || typeof m.member?.connectionId !== 'string') return;
    if (m.type === 'join') p.set(m.member.connectionId, m.member);
    else p.delete(m.member.connectionId);
  }

  all() {
    return [...this.socks.keys()];
  }

  subscribers(features) {
    const ids = new Set();
    for (const f of features) for (const id of this.features.get(f) ?? []) ids.add(id);
    return [...ids];
  }

  /** The socket whose forwarded subscribe this reply answers (replies come in order; a
   *  subscribe whose features were all refused got errors, not a `subscribed`). */
  answer(features, done) {
    const i = this.pending.findIndex(([, asked]) => features.every((f) => asked.has(f)));
    if (i < 0) return [];
    const [id, asked] = this.pending[i];
    if (done) this.pending.splice(0, i + 1);
    else {
      for (const f of features) asked.delete(f);
      if (!asked.size) this.pending.splice(i, 1);
    }
    return [id];
  }

  /** Posts a frame once for the follower tabs it concerns, and hands it to this tab's sockets. */
  post(ids, text) {
    if (!ids.length) return;
    const remote = [];
    for (const id of ids) {
      const s = this.socks.get(id);
      if (!s?.ready) continue;
      if (s.tab === this.sharing.tab) s.post({ k: 'frame', d: text });
      else remote.push(id);
    }
    if (remote.length) this.sharing.channel.postMessage({ t: 'to', from: this.sharing.tab, to: remote, k: 'frame', d: text });
  }

  /** A frame from a virtual socket: subscriptions are unioned, pongs answered here already. */
  from(id, text) {
    const s = this.socks.get(id);
    if (!s || !this.ws || this.ws.readyState !== 1) return false;
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return false;
    }
    if (m.type === 'pong') return true;
    if (m.type === 'auth' && s.tab !== this.sharing.tab) return true; // the leader's token serves all
    if (m.type === 'subscribe' && Array.isArray(m.features)) {
      for (const f of m.features) this.join(f, id);
      this.pending.push([id, new Set(m.features)]);
    } else if (m.type === 'unsubscribe' && Array.isArray(m.features)) {
      const last = m.features.filter((f) => this.leave(f, id));
      if (last.length) this.ws.send(JSON.stringify({ type: 'unsubscribe', features: last }));
      return true;
    }
    this.ws.send(text);
    return true;
  }

  join(feature, id) {
    let set = this.features.get(feature);
    if (!set) this.features.set(feature, (set = new Set()));
    set.add(id);
  }

  /** True if `id` was the last subscriber of `feature`. */
  leave(feature, id) {
    const set = this.features.get(feature);
    if (!set || !set.delete(id)) return false;
    if (set.size) return false;
    this.features.delete(feature);
    this.presence.delete(feature);
    return true;
  }

  /** A virtual socket closed (or its tab is gone: `tell` it anyway, in case it is not): its
   *  features are released, and the real socket closes with the last. */
  detach(id, tell = false) {
    const sock = this.socks.get(id);
    if (!sock) return;
    this.socks.delete(id);
    if (tell) sock.post({ k: 'close', code: 1006, reason: '' });
    const last = [...this.features.keys()].filter((f) => this.leave(f, id));
    this.pending = this.pending.filter(([p]) => p !== id);
    if (!this.socks.size) return this.shut();
    if (last.length && this.ws?.readyState === 1) this.ws.send(JSON.stringify({ type: 'unsubscribe', features: last }));
  }

  shut() {
    const ws = this.ws;
    this.ws = null;
    this.welcome = undefined;
    this.features.clear();
    this.pending = [];
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close(1000);
      } catch {}
    }
  }

  dispose() {
    this.stop.abort();
    const socks = [...this.socks.values()];
    this.socks.clear();
    this.shut();
    for (const s of socks) if (s.tab !== this.sharing.tab) s.post({ k: 'close', code: 1006, reason: '' });
  }
}
