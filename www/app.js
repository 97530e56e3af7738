// The demo page: one RealtimeClient, a live event log, and a form that publishes an event
// every open tab receives. Plain ES modules; the package is served from /pkg by the gateway.
import init, { RealtimeClient } from '/pkg/livestate.js';

const FEATURES = ['rbac', 'users', 'products', 'orders'];
const MAX_LOG = 200;
const $ = (id) => document.getElementById(id);

await init();
const client = new RealtimeClient({ url: '/ws', maxReconnectAttempts: Infinity, backoff: { min: 300, max: 5000 } });

function prepend(list, html) {
  const li = document.createElement('li');
  li.innerHTML = html;
  list.prepend(li);
  while (list.children.length > MAX_LOG) list.lastChild.remove();
}
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

// Connection status, with the retry count while reconnecting.
client.onStatus((status, reason) => {
  $('status').textContent = status;
  $('status').className = `status ${status}`;
  $('attempts').textContent = status === 'reconnecting' && client.reconnectAttempts > 0
    ? `attempt ${client.reconnectAttempts}` : reason ? `(${reason.kind})` : '';
  $('toggle').textContent = status === 'disconnected' ? 'Connect' : 'Disconnect';
});
client.onError((e) => prepend($('errors'), `${esc(e.kind)}: ${esc(e.reason ?? e.message)}`));

// One checkbox per feature; each holds a subscription while checked.
const subs = new Map();
function subscribe(feature) {
  subs.set(feature, client.subscribeToFeature(feature, (data, message) => {
    const time = message.meta.timestamp.slice(11, 23);
    prepend($('log'), `<span class="muted">${esc(time)}</span> <span class="name">${esc(feature)}.${esc(message.entity)}.${esc(message.action)}</span> ${esc(JSON.stringify(data))}`);
  }));
}
for (const feature of FEATURES) {
  const label = document.createElement('label');
  label.innerHTML = `<input type="checkbox" checked> ${feature}`;
  label.querySelector('input').addEventListener('change', (e) => {
    if (e.target.checked) subscribe(feature);
    else { subs.get(feature)?.unsubscribe(); subs.delete(feature); }
  });
  $('features').append(label);
  subscribe(feature);
}

$('publish').addEventListener('submit', (e) => {
  e.preventDefault();
  const out = $('publish-result');
  try {
    const [feature, entity, action, ...rest] = $('name').value.trim().split('.');
    if (!action || rest.length) throw new Error('the event name must be feature.entity.action');
    client.send({ feature, entity, action, data: JSON.parse($('data').value || 'null') });
    out.textContent = 'sent';
  } catch (err) {
    out.textContent = err.message;
  }
});

$('toggle').addEventListener('click', () => {
  if (client.status === 'disconnected') {
    client.connect();
    for (const f of FEATURES) if (!subs.has(f)) subscribe(f);
    document.querySelectorAll('#features input').forEach((i) => { i.checked = true; });
  } else {
    client.disconnect(); // drops the subscriptions too
    subs.clear();
  }
});
$('clear').addEventListener('click', () => { $('log').replaceChildren(); });

setInterval(() => {
  const s = client.stats();
  $('stats').innerHTML = Object.entries(s).map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('');
}, 500);

client.connect();
window.livestate = client; // for poking at it from the console
