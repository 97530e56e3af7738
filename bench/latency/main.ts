// End-to-end latency page: one RealtimeClient and a RealtimeStore of products; each applied
// `updated` event records now minus the publisher's send time (data.t, on the publisher's clock;
// the runner measures the offset between the two clocks and passes it as ?offset=).
import init, { RealtimeClient, RealtimeStore } from '../../pkg/livestate.js';

interface Product { id: string; price: number; t: number }

const params = new URLSearchParams(location.search);
const latencies: number[] = [];
let offset = 0;

await init({ module_or_path: '/pkg/livestate_bg.wasm' });
const client = new RealtimeClient({ url: params.get('ws')!, maxReconnectAttempts: 0 });
// Kept referenced: a store the page drops is garbage-collected, which unsubscribes it.
const store = new RealtimeStore<Product>(client, 'products', 'product', {
  onUpdated: (item) => latencies.push(performance.timeOrigin + performance.now() - (item.t + offset)),
});
const connected = new Promise<void>((resolve) => client.onStatus((s) => s === 'connected' && resolve()));
client.connect();
await connected;

Object.assign(window, {
  /** The page's clock, for the runner's offset estimate. */
  clock: () => performance.timeOrigin + performance.now(),
  setOffset: (ms: number) => { offset = ms; },
  /** Takes the latencies recorded so far. */
  take: () => latencies.splice(0),
  stats: () => client.stats(),
  store,
  ready: true,
});
