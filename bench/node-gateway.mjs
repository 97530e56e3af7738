// The baseline for the fan-out benchmark: a Node `ws` gateway written to the seed's design.
// Clients subscribe by feature; a backend POSTs events to /api/events; each event is
// JSON.stringify'd per client (the seed's `client.socket.emit(...)` loop) and sent to every
// subscriber of its feature. It speaks livestate's frames, so the same load generator drives both.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] ?? 3334);
const clients = new Map(); // socket -> { features: Set<string> }
let nextId = 0;

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') return res.end('ok');
  if (req.method !== 'POST' || req.url !== '/api/events') return res.writeHead(404).end();
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    const parsed = JSON.parse(body);
    const events = Array.isArray(parsed) ? parsed : [parsed];
    let delivered = 0;
    for (const event of events) {
      const message = { type: 'event', ...event, meta: { timestamp: new Date().toISOString(), userId: 'system', sessionId: 'system', featureVersion: '1.0', priority: 'normal' } };
      for (const [socket, client] of clients) {
        if (client.features.has(event.feature)) {
          socket.send(JSON.stringify(message));
          delivered++;
        }
      }
    }
    res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: events.length, delivered }));
  });
});

const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (socket) => {
  const client = { features: new Set() };
  clients.set(socket, client);
  socket.send(JSON.stringify({ type: 'welcome', connectionId: String(++nextId), heartbeat: 30000 }));
  socket.on('message', (raw) => {
    const frame = JSON.parse(raw);
    if (frame.type === 'subscribe') {
      for (const f of frame.features) client.features.add(f);
      socket.send(JSON.stringify({ type: 'subscribed', features: frame.features, streams: {} }));
    } else if (frame.type === 'unsubscribe') {
      for (const f of frame.features) client.features.delete(f);
    }
  });
  socket.on('close', () => clients.delete(socket));
});

server.listen(port, '127.0.0.1', () => console.log(`node ws gateway on ${port}`));
