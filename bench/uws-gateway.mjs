// The fastest peer for the fan-out benchmark: a gateway on uWebSockets.js (the `uwebsockets`
// npm package, prebuilt), using its own pub/sub: a client subscribes to a topic per feature,
// and a POSTed event is serialised once and published to the topic. It speaks livestate's
// frames, so the same load generator drives it.
import { createRequire } from 'node:module';

const uWS = createRequire(import.meta.url)('uwebsockets');
const port = Number(process.argv[2] ?? 3335);
let nextId = 0;

const app = uWS.App();
app.ws('/ws', {
  maxPayloadLength: 64 * 1024,
  idleTimeout: 0,
  // Like livestate's outbound queue: a client that falls this far behind is closed.
  maxBackpressure: 16 * 1024 * 1024,
  open: (ws) => ws.send(JSON.stringify({ type: 'welcome', connectionId: String(++nextId), heartbeat: 30000 })),
  message: (ws, raw) => {
    const frame = JSON.parse(Buffer.from(raw).toString());
    if (frame.type === 'subscribe') {
      for (const f of frame.features) ws.subscribe(f);
      ws.send(JSON.stringify({ type: 'subscribed', features: frame.features, streams: {} }));
    } else if (frame.type === 'unsubscribe') {
      for (const f of frame.features) ws.unsubscribe(f);
    }
  },
});
app.get('/healthz', (res) => res.end('ok'));
app.post('/api/events', (res) => {
  const chunks = [];
  res.onAborted(() => (res.aborted = true));
  res.onData((chunk, last) => {
    chunks.push(Buffer.from(new Uint8Array(chunk))); // a copy: the chunk is detached after this call
    if (!last) return;
    const parsed = JSON.parse(Buffer.concat(chunks).toString());
    const events = Array.isArray(parsed) ? parsed : [parsed];
    let delivered = 0;
    for (const event of events) {
      const message = { type: 'event', ...event, meta: { timestamp: new Date().toISOString(), userId: 'system', sessionId: 'system', featureVersion: '1.0', priority: 'normal' } };
      delivered += app.numSubscribers(event.feature);
      app.publish(event.feature, JSON.stringify(message));
    }
    if (!res.aborted) res.cork(() => res.writeStatus('202 Accepted').writeHeader('content-type', 'application/json').end(JSON.stringify({ accepted: events.length, delivered })));
  });
});
app.listen('127.0.0.1', port, (ok) => console.log(ok ? `uWS gateway on ${port}` : `uWS gateway could not listen on ${port}`));
