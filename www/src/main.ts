// The demo page: one RealtimeClient for the whole tab, a RealtimeStore per list, an event log
// with per-feature counters, and switches to make the backend slow, failing or unreachable.
import init, { RealtimeClient, RealtimeStore, type StoreConflict } from '../../pkg/livestate.js';
import { api } from './api.js';
import { mountTable, type Column, type Item } from './table.js';

const FEATURES = ['rbac', 'users', 'products', 'orders'] as const;
const MAX_LOG = 100;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const money = (n: unknown) => `$${Number(n).toFixed(2)}`;

await init({ module_or_path: '/dist/livestate_bg.wasm' }); // copied beside the bundle by scripts/build-demo.sh
// Each tab is someone: a name kept for the tab's life, shown to the other tabs through presence.
const NAMES = ['Ada', 'Grace', 'Linus', 'Alan', 'Barbara', 'Ken', 'Margaret', 'Dennis', 'Frances', 'Edsger'];
const me = new URLSearchParams(location.search).get('name') ?? sessionStorage.getItem('livestate-demo-name') ?? `${NAMES[Math.floor(Math.random() * NAMES.length)]} ${Math.floor(Math.random() * 90 + 10)}`;
sessionStorage.setItem('livestate-demo-name', me);
const client = new RealtimeClient({ url: '/ws', maxReconnectAttempts: Infinity, backoff: { min: 300, max: 3000 }, presenceInfo: { name: me } });

function note(text: string, kind = '') {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  li.className = kind;
  $('errors').prepend(li);
  while ($('errors').children.length > 30) $('errors').lastChild!.remove();
}

// Connection status, with the retry count while reconnecting.
client.onStatus((status, reason) => {
  $('status').textContent = status;
  $('status').dataset.status = status;
  $('attempts').textContent = (status === 'connecting' || status === 'reconnecting') && client.reconnectAttempts > 0
    ? `attempt ${client.reconnectAttempts}` : reason && status !== 'connected' ? `(${reason.kind})` : '';
});
client.onError((e) => note(`${e.kind}: ${'message' in e ? e.message : 'reason' in e ? e.reason : JSON.stringify(e)}`));
client.onResync((feature) => note(`${feature}: events were lost for good, reloaded from the API`));

// The event log: every feature's events, newest first, with counters.
const counts = new Map<string, number>(FEATURES.map((f) => [f, 0]));
const renderCounters = () => {
  $('counters').innerHTML = '';
  for (const [feature, n] of counts) $('counters').insertAdjacentHTML('beforeend', `<span>${feature} <b data-feature="${feature}">${n}</b></span>`);
};
for (const feature of FEATURES) {
  client.subscribeToFeature(feature, (data, message) => {
    counts.set(feature, (counts.get(feature) ?? 0) + 1);
    renderCounters();
    const li = document.createElement('li');
    li.innerHTML = `<span class="muted">${message.meta.timestamp.slice(11, 23)}</span> <span class="name"></span> `;
    li.querySelector('.name')!.textContent = `${feature}.${message.entity}.${message.action}`;
    li.append(JSON.stringify(data));
    $('log').prepend(li);
    while ($('log').children.length > MAX_LOG) $('log').lastChild!.remove();
  });
}
renderCounters();

// Who is online, per feature (the demo gateway keeps presence for its four features).
$('me').textContent = `you are ${me}`;
type Info = { name?: string };
const renderPresence = () => {
  $('presence').innerHTML = '';
  for (const feature of FEATURES) {
    const dd = document.createElement('dd');
    dd.dataset.feature = feature;
    for (const [i, m] of client.presence<Info>(feature).entries()) {
      const span = document.createElement('span');
      span.textContent = (i ? ', ' : '') + (m.info?.name ?? m.userId);
      if (m.info?.name === me) span.className = 'you';
      dd.append(span);
    }
    $('presence').insertAdjacentHTML('beforeend', `<dt>${feature}</dt>`);
    $('presence').append(dd);
  }
};
for (const feature of FEATURES) client.onPresence<Info>(feature, renderPresence);
renderPresence();

// One store per list. A conflict is shown on its row until the row is edited again.
const conflicts = new Map<string, string>();
const onConflict = (c: StoreConflict<Item>) => {
  const text = `${c.id}: ${c.fields.join(', ')} changed on the server (${JSON.stringify(c.theirs)}) while your edit (${JSON.stringify(c.mine)}) was pending`;
  conflicts.set(c.id, text);
  note(`conflict on ${text}`, 'conflict');
};
function list(feature: string, entity: string, columns: Column[], extra: { deletable?: boolean; newestFirst?: boolean } = {}) {
  const collection = `${feature}/${entity}`;
  const store = new RealtimeStore<Item>(client, feature, entity, {
    versionField: 'version',
    onConflict,
    reload: () => api.list<Item>(collection),
  });
  store.load(api.list<Item>(collection)).catch((e: Error) => note(`${collection}: ${e.message}`));
  mountTable(store, $(`panel-${feature}-${entity}`), { collection, columns, conflicts, onError: (m) => note(m), ...extra });
  return store;
}

const roles = list('rbac', 'role', [
  { field: 'name', edit: 'text', grow: true },
  { field: 'permissions', show: (r) => plural((r.permissions as string[]).length, 'permission') },
], { deletable: true });
list('users', 'user', [
  { field: 'name', edit: 'text', grow: true },
  { field: 'roleId', show: (u) => String(roles.get(String(u.roleId))?.name ?? u.roleId) },
  { field: 'active', edit: 'checkbox' },
], { deletable: true });
const products = list('products', 'product', [
  { field: 'name', edit: 'text', grow: true },
  { field: 'price', edit: 'number' },
  { field: 'stock', edit: 'number' },
], { deletable: true });
list('orders', 'order', [
  { field: 'id' },
  { field: 'customer', grow: true },
  { field: 'total', show: (o) => `${o.quantity} × ${String(products.get(String(o.productId))?.name ?? o.productId)} · ${money(o.total)}` },
  { field: 'status', edit: 'select', options: ['created', 'paid', 'shipped', 'delivered', 'cancelled'] },
], { newestFirst: true });

// "+ add": an optimistic create with a temporary id that the server's item replaces.
let temp = 0;
const add = (feature: string, entity: string, item: Partial<Item>) => {
  const store = { rbac: roles, products }[feature]!;
  const draft = { ...item, id: `tmp-${++temp}`, version: 0 } as Item;
  store.performOptimisticCreate(draft, () => api.create<Item>(`${feature}/${entity}`, item))
    .catch((e: Error) => note(`create ${entity}: ${e.message} (removed)`));
};
$('panel-rbac-role').querySelector('.add')!.addEventListener('click', () => add('rbac', 'role', { name: 'New role', description: '', permissions: [] }));
$('panel-products-product').querySelector('.add')!.addEventListener('click', () => add('products', 'product', { name: 'New product', sku: 'SKU-NEW', price: 10, stock: 5 }));

// Switches.
$('outage').addEventListener('click', () => api.outage(3000).catch((e: Error) => note(e.message)));
const rate = $<HTMLSelectElement>('rate');
api.rate().then((r) => {
  const value = String(r.rate);
  if (![...rate.options].some((o) => o.value === value)) rate.add(new Option(`${value}/s`, value));
  rate.value = value;
}).catch((e: Error) => note(e.message));
rate.addEventListener('change', () => api.activity(Number(rate.value)).catch((e: Error) => note(e.message)));

setInterval(() => {
  const s = client.stats();
  $('stats').innerHTML = Object.entries(s).map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('');
}, 500);

client.connect();
Object.assign(window, { livestate: client }); // for poking at it from the console
