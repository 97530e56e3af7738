// Store apply benchmark page: routes and applies `updated` event frames into a keyed store of N
// items, one variant per page load (?variant=&size=), and reports events/s and memory.
// Variants: (a) livestate's RealtimeStore, fed through its real client (only the WebSocket is
// replaced, by an in-page socket the benchmark drives); (b) the seed's design in TypeScript
// (a Subject per feature, filter pipes per action, `items.map` into an Angular signal);
// (c) @ngrx/signals withEntities + updateEntity behind the same Subjects; (d) JSON.parse alone;
// (k) JSON.parse and a Map set by key, the least any keyed store does: it keeps every item it
// is sent until the next update of the same key, which the garbage collector pays for.
import init, { RealtimeClient, RealtimeStore } from '../../pkg/livestate.js';
import { Subject, filter, map, type Observable } from 'rxjs';
import '@angular/compiler'; // signalStore() makes an injectable class, compiled just in time outside an Angular build
import { Injector, signal } from '@angular/core';
import { signalStore, patchState } from '@ngrx/signals';
import { withEntities, setAllEntities, updateEntity } from '@ngrx/signals/entities';

interface Item { id: string; name: string; price: number; stock: number; version: number }
interface Message { type: string; feature: string; entity: string; action: string; data: Item }

const params = new URLSearchParams(location.search);
const VARIANT = params.get('variant') ?? 'a';
const SIZE = Number(params.get('size') ?? 1000);

// Seeded, so every variant applies the same updates in the same order.
let state = 0x9e3779b9;
const random = () => {
  state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
  return (state >>> 0) / 4294967296;
};
const id = (i: number) => `p-${String(i).padStart(6, '0')}`;
const items = Array.from({ length: SIZE }, (_, i): Item => ({ id: id(i), name: `Product ${i}`, price: 10 + (i % 90), stock: i % 50, version: 1 }));
let seq = 0;
function frames(count: number): string[] {
  return Array.from({ length: count }, () => {
    const i = Math.floor(random() * SIZE);
    seq += 1;
    return JSON.stringify({
      type: 'event', feature: 'products', entity: 'product', action: 'updated',
      data: { id: id(i), name: `Product ${i}`, price: Math.round(random() * 10000) / 100, stock: seq % 97, version: seq + 1 },
      meta: { timestamp: '2026-11-26T00:00:00.000Z', userId: 'system', sessionId: 'system', featureVersion: '1.0', priority: 'normal' },
      seq, epoch: 'bench',
    });
  });
}

interface Variant {
  /** Delivers frames the way the variant receives them and applies them. */
  apply(batch: string[]): void | Promise<void>;
  /** Reads the store as a view would, and returns the item with this id. */
  read(id: string): Item | undefined;
}

/** The seed's WebSocketService routing: one Subject per feature, filters per entity/action. */
function seedRouting(onUpdated: (item: Item) => void) {
  const subjects = new Map<string, Subject<Message>>([['products', new Subject<Message>()]]);
  const event = (feature: string, entity: string, action: string): Observable<Item> =>
    subjects.get(feature)!.pipe(filter((m) => m.entity === entity), filter((m) => m.action === action), map((m) => m.data));
  event('products', 'product', 'created').subscribe(() => {});
  event('products', 'product', 'updated').subscribe(onUpdated);
  event('products', 'product', 'deleted').subscribe(() => {});
  return (frame: string) => {
    const message = JSON.parse(frame) as Message;
    subjects.get(message.feature)?.next(message);
  };
}

async function livestate(withStore = true): Promise<Variant & { wasmBytes: () => number }> {
  const wasm = await init({ module_or_path: '/pkg/livestate_bg.wasm' });
  const wasmStart = wasm.memory.buffer.byteLength; // the module's own baseline, not the store's
  let socket: FakeSocket | undefined;
  let subscribed!: () => void;
  const acknowledged = new Promise<void>((resolve) => { subscribed = resolve; });
  class FakeSocket {
    readyState = 0;
    onopen: ((e: unknown) => void) | null = null;
    onmessage: ((e: { data: string; timeStamp?: number }) => void) | null = null;
    onclose: ((e: unknown) => void) | null = null;
    onerror: ((e: unknown) => void) | null = null;
    constructor(public url: string) {
      socket = this;
      setTimeout(() => {
        this.readyState = 1;
        this.onopen?.({});
        this.deliver({ type: 'welcome', connectionId: '1', heartbeat: 3_600_000 });
      });
    }
    deliver(frame: object) { this.onmessage?.({ data: JSON.stringify(frame), timeStamp: performance.now() }); }
    send(text: string) {
      const frame = JSON.parse(text);
      if (frame.type === 'subscribe') {
        // Answered in a later task, as a real socket would: never from inside send().
        const ack = { type: 'subscribed', features: frame.features, streams: { products: { epoch: 'bench', seq: 0 } } };
        setTimeout(() => { this.deliver(ack); subscribed(); });
      }
    }
    close() {}
  }
  (globalThis as { WebSocket: unknown }).WebSocket = FakeSocket;
  const client = new RealtimeClient({ url: 'ws://bench.invalid/ws', heartbeatTimeout: 3_600_000 });
  let last: Item | undefined;
  const store = withStore ? new RealtimeStore<Item>(client, 'products', 'product', { versionField: 'version' }) : undefined;
  if (store) store.replaceAll(items);
  else client.subscribeToEntity('products', 'product', (data: Item) => { last = data; });
  client.connect();
  await acknowledged;
  return {
    apply(batch) {
      const deliver = socket!.onmessage!;
      // Each with its time, as a browser's MessageEvent has it (this batch arrives at once).
      const timeStamp = performance.now();
      for (const data of batch) deliver({ data, timeStamp });
      return Promise.resolve(); // the store's change notification is a microtask
    },
    read: (id) => (store ? (store.items(), store.get(id)) : last),
    wasmBytes: () => wasm.memory.buffer.byteLength - wasmStart,
  };
}

function seed(): Variant {
  const list = signal<Item[]>(items);
  const route = seedRouting((item) => list.update((all) => all.map((existing) => (existing.id === item.id ? item : existing))));
  return { apply: (batch) => { for (const f of batch) route(f); }, read: (id) => list().find((i) => i.id === id) };
}

function ngrx(): Variant {
  const Store = signalStore(withEntities<Item>());
  const store = Injector.create({ providers: [Store] }).get(Store);
  patchState(store, setAllEntities(items));
  const route = seedRouting((item) => patchState(store, updateEntity({ id: item.id, changes: item })));
  return { apply: (batch) => { for (const f of batch) route(f); }, read: (id) => (store.entities(), store.entityMap()[id]) };
}

/** The least any keyed store does: parse, and keep the item by its key (a Map). */
function keyedFloor(): Variant {
  const byId = new Map<string, Item>(items.map((i) => [i.id, i]));
  return { apply: (batch) => { for (const f of batch) { const m = JSON.parse(f) as Message; byId.set(m.data.id, m.data); } }, read: (id) => byId.get(id) };
}

function floor(): Variant {
  let last: Message | undefined;
  return { apply: (batch) => { for (const f of batch) last = JSON.parse(f); }, read: () => last?.data };
}

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const heap = () => (performance as unknown as { memory: { usedJSHeapSize: number } }).memory.usedJSHeapSize;

async function run() {
  gc();
  const heapBefore = heap();
  const variant = VARIANT === 'a' ? await livestate() : VARIANT === 'r' ? await livestate(false) : VARIANT === 'b' ? seed() : VARIANT === 'c' ? ngrx() : VARIANT === 'k' ? keyedFloor() : floor();
  // Memory the variant adds to hold the SIZE items (the item objects are the benchmark's, made
  // before): measured here, before any event, since each variant retains the items of however
  // many events it got through in its second, which would blur the comparison.
  gc();
  const heapBytes = heap() - heapBefore;
  const wasmBytes = 'wasmBytes' in variant ? (variant as { wasmBytes: () => number }).wasmBytes() : 0;
  // Warm up (JIT tiers, first allocations) on up to WARM_EVENTS events or WARM_MS, whichever
  // comes first, then size the timed run to about a second. Measured as a steady state, as in
  // an app that has been open for a while: the client's path (JS, then wasm tiering up) needs
  // some 50 000 events to reach it at 10 000 items, where 4 000 events (the warm-up until
  // 2026-12-02) measured it half-way there. Every variant gets the same rule.
  const WARM_EVENTS = 60_000;
  const WARM_MS = 1500;
  let warmed = 0;
  let t = performance.now();
  let lastChunk = { n: 1, ms: 1 };
  for (let n = 20; warmed < WARM_EVENTS && performance.now() - t < WARM_MS; n = Math.min(2 * n, 10_000, WARM_EVENTS - warmed)) {
    const batch = frames(n);
    const t0 = performance.now();
    await variant.apply(batch);
    lastChunk = { n, ms: performance.now() - t0 };
    warmed += n;
  }
  const perEvent = Math.max(lastChunk.ms / lastChunk.n, 1e-4);
  const count = Math.round(Math.min(200_000, Math.max(50, 1000 / perEvent)));
  let timed = frames(count);
  const bytes = timed.reduce((n, f) => n + f.length, 0) / count;
  const last = JSON.parse(timed[timed.length - 1]) as Message;
  gc();
  t = performance.now();
  await variant.apply(timed);
  const seen = variant.read(last.data.id);
  const ms = performance.now() - t;
  if (!seen || seen.version !== last.data.version) throw new Error(`${VARIANT}: the last update was not applied`);
  timed = [];
  // And after the run, as the issue that set the targets measured it (this counts the new item
  // objects of the events each variant applied, so it favours the slower ones).
  gc();
  const heapAfterBytes = heap() - heapBefore;
  const wasmAfterBytes = 'wasmBytes' in variant ? (variant as { wasmBytes: () => number }).wasmBytes() : 0;
  return { variant: VARIANT, size: SIZE, events: count, ms, eventsPerSec: (count / ms) * 1000, frameBytes: bytes, heapBytes, wasmBytes, heapAfterBytes, wasmAfterBytes };
}

Object.assign(window, { run });
