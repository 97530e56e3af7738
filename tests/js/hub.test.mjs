// The leader's Hub (src/js/share.js) alone, in Node, with a stand-in for the one real socket:
// how it unions subscriptions across the tabs' virtual sockets, routes each gateway frame to
// the sockets it concerns, and answers each subscribe to the socket that asked. The browser
// tests (tests/e2e/share.test.mjs) run it for real; these pin the cases a browser test cannot
// reach on purpose (a refusal among several subscribes, replies in flight, a tab gone).
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Hub } from '../../src/js/share.js';

/** The real socket: records what the Hub writes; `serve(frame)` is the gateway speaking. */
class FakeSocket {
  static last;
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    FakeSocket.last = this;
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
    this.closed = true;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  serve(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}
globalThis.WebSocket = FakeSocket;
// Tab locks: the Hub only asks for them; a tab never goes away here unless a test says so.
const gone = new Map();
globalThis.navigator ??= {};
Object.defineProperty(globalThis.navigator, 'locks', {
  configurable: true,
  value: { request: (name, _options, f) => new Promise((resolve) => gone.set(name.split(':tab:')[1], () => resolve(f()))) },
});

let hub, remote, frames;
beforeEach(() => {
  remote = [];
  frames = new Map();
  const sharing = { tab: 'L', name: 'livestate:k:ws://x/ws', url: 'ws://x/ws', client: { _token: 'secret' }, channel: { postMessage: (m) => remote.push(m) } };
  hub = new Hub(sharing);
});

/** Attaches a virtual socket of tab `tab` (the leader's own tab is 'L'); its frames are
 *  collected under `id` (remote ones arrive through the channel). */
function attach(id, tab = 'L') {
  frames.set(id, []);
  hub.attach(id, tab, (m) => m.k === 'frame' && frames.get(id).push(JSON.parse(m.d).type + ' ' + (JSON.parse(m.d).features ?? JSON.parse(m.d).feature ?? '')));
}
const remoteFrames = (id) => remote.filter((m) => m.to.includes(id) && m.k === 'frame').map((m) => JSON.parse(m.d));
const ws = () => FakeSocket.last;

async function connect(...ids) {
  for (const id of ids) attach(id);
  ws().open();
  await new Promise((r) => setImmediate(r));
  ws().serve({ type: 'welcome', connectionId: 'c', heartbeat: 1000 });
}

test('the real socket authenticates with the leader\'s token and every socket gets the welcome', async () => {
  await connect('a', 'b');
  assert.deepEqual(ws().sent, [{ type: 'auth', token: 'secret' }]);
  assert.deepEqual(frames.get('a'), ['welcome ']);
  assert.deepEqual(frames.get('b'), ['welcome ']);
});

test('a feature is unsubscribed at the gateway only when its last socket leaves it', async () => {
  await connect('a', 'b');
  hub.from('a', JSON.stringify({ type: 'subscribe', features: ['rbac'] }));
  hub.from('b', JSON.stringify({ type: 'subscribe', features: ['rbac', 'users'] }));
  hub.from('a', JSON.stringify({ type: 'unsubscribe', features: ['rbac'] }));
  assert.ok(!ws().sent.some((f) => f.type === 'unsubscribe'), 'b still holds rbac');
  hub.from('b', JSON.stringify({ type: 'unsubscribe', features: ['rbac'] }));
  assert.deepEqual(ws().sent.at(-1), { type: 'unsubscribe', features: ['rbac'] });
  hub.detach('b');
  assert.deepEqual(ws().sent.at(-1), { type: 'unsubscribe', features: ['users'] }, 'a closed socket releases its features');
});

test('events go to the sockets subscribed to their feature, heartbeats to all and are answered once', async () => {
  await connect('a', 'b');
  hub.from('a', JSON.stringify({ type: 'subscribe', features: ['rbac'] }));
  hub.from('b', JSON.stringify({ type: 'subscribe', features: ['users'] }));
  ws().serve({ type: 'event', feature: 'rbac', entity: 'role', action: 'updated', data: {}, seq: 1, epoch: 'e' });
  ws().serve({ type: 'batch', events: [{ feature: 'users' }, { feature: 'users' }] });
  ws().serve({ type: 'heartbeat' });
  hub.from('a', '{"type":"pong"}');
  hub.from('b', '{"type":"pong"}');
  assert.deepEqual(frames.get('a').slice(1), ['event rbac', 'heartbeat ']);
  assert.deepEqual(frames.get('b').slice(1), ['batch ', 'heartbeat ']);
  assert.equal(ws().sent.filter((f) => f.type === 'pong').length, 1, 'one pong, from the Hub');
});

test('each subscribed reply and each refusal reaches the socket that asked, in order', async () => {
  await connect('a', 'b');
  hub.from('a', JSON.stringify({ type: 'subscribe', features: ['rbac', 'secret'] }));
  hub.from('b', JSON.stringify({ type: 'subscribe', features: ['rbac'] }));
  ws().serve({ type: 'error', code: 'forbidden', message: 'no', feature: 'secret' });
  ws().serve({ type: 'subscribed', features: ['rbac'], streams: { rbac: { epoch: 'e', seq: 4 } } });
  ws().serve({ type: 'subscribed', features: ['rbac'], streams: { rbac: { epoch: 'e', seq: 4 } } });
  assert.deepEqual(frames.get('a').slice(1), ['error secret', 'subscribed rbac']);
  assert.deepEqual(frames.get('b').slice(1), ['subscribed rbac']);
  ws().serve({ type: 'event', feature: 'secret', entity: 'x', action: 'y', data: {} });
  assert.equal(frames.get('a').length, 3, 'a refused feature is not routed to the socket');
});

test('a follower tab that goes away has its subscriptions released and its socket told', async () => {
  await connect('a');
  hub.request({ t: 'open', leader: 'L', id: 'f1', tab: 'T2' });
  assert.deepEqual(remote.filter((m) => m.to.includes('f1')).map((m) => m.k), ['open', 'frame'], 'open, then the welcome');
  hub.from('a', JSON.stringify({ type: 'subscribe', features: ['rbac'] }));
  hub.request({ t: 'send', leader: 'L', id: 'f1', d: JSON.stringify({ type: 'subscribe', features: ['orders'] }) });
  ws().serve({ type: 'event', feature: 'orders', entity: 'o', action: 'paid', data: {} });
  assert.equal(remoteFrames('f1').at(-1).type, 'event');
  hub.request({ t: 'send', leader: 'L', id: 'f1', d: JSON.stringify({ type: 'auth', token: 'another' }) });
  assert.ok(!ws().sent.some((f) => f.token === 'another'), 'a follower\'s token is not used');
  gone.get('T2')();
  assert.deepEqual(ws().sent.at(-1), { type: 'unsubscribe', features: ['orders'] });
  assert.ok(remote.some((m) => m.to.includes('f1') && m.k === 'close'));
});

test('the real socket closes with the last virtual socket, and its close reaches every socket', async () => {
  await connect('a', 'b');
  const first = ws();
  hub.detach('a');
  assert.ok(!first.closed);
  hub.detach('b');
  assert.ok(first.closed, 'no socket left: closed');
  await connect('c');
  const seen = [];
  hub.attach('d', 'L', (m) => seen.push(m.k));
  ws().onclose({ code: 1006, reason: '' });
  assert.deepEqual(seen, ['open', 'frame', 'close']);
});

test('presence frames go to the sockets of their feature, and a socket that subscribes later gets the members kept so far', async () => {
  await connect('a', 'b');
  const member = (id) => ({ connectionId: id, userId: 'u' });
  hub.from('a', JSON.stringify({ type: 'subscribe', features: ['chat'] }));
  ws().serve({ type: 'presence', feature: 'chat', members: [member('1')] });
  ws().serve({ type: 'subscribed', features: ['chat'] });
  ws().serve({ type: 'join', feature: 'chat', member: member('2') });
  ws().serve({ type: 'leave', feature: 'chat', member: member('1') });
  assert.deepEqual(frames.get('a'), ['welcome ', 'presence chat', 'presence chat', 'subscribed chat', 'join chat', 'leave chat']);
  assert.deepEqual(frames.get('b'), ['welcome '], 'b subscribed to nothing');
  // The gateway sends no second snapshot to the shared connection: the Hub's copy answers b.
  hub.from('b', JSON.stringify({ type: 'subscribe', features: ['chat'] }));
  const seen = [];
  hub.socks.get('b').post = (m) => m.k === 'frame' && seen.push(JSON.parse(m.d));
  ws().serve({ type: 'subscribed', features: ['chat'] });
  assert.deepEqual(seen, [{ type: 'presence', feature: 'chat', members: [member('2')] }, { type: 'subscribed', features: ['chat'] }]);
  // Once nobody holds the feature, its members are forgotten.
  hub.from('a', JSON.stringify({ type: 'unsubscribe', features: ['chat'] }));
  hub.from('b', JSON.stringify({ type: 'unsubscribe', features: ['chat'] }));
  assert.equal(hub.presence.has('chat'), false);
});
