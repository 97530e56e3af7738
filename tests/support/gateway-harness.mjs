// Runs the real gateway for the browser tests and lets them kill, restart, pause and resume
// it over HTTP (a browser test cannot spawn processes). Started and stopped by scripts/test.sh.
//
//   node gateway-harness.mjs <gateway-binary> <ws-port> <control-port> [gateway flags...]
//   POST /kill | /start | /restart | /pause | /resume   (204 once done)
//   POST /publish   body forwarded to the gateway's POST /api/events
//   GET  /token?sub=u1&ttl=60   an HS256 token for the second, token-checking gateway
//   POST /cut       drops every connection through the TCP proxy on PROXY_PORT (a network cut)
//   POST /chaos?features=a,b&rate=1000&cuts=50&seed=1   publishes `rate` events/s spread over
//                   the features while cutting the proxy `cuts` times at seeded random moments;
//                   answers {published: {feature: n}, final: {feature: {id: n}}} when done
// With SECURE_PORT set, a second gateway with the same flags plus --jwt-secret runs there.
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { createHmac } from 'node:crypto';

const [bin, wsPort, ctlPort, ...flags] = process.argv.slice(2);
const securePort = process.env.SECURE_PORT;
const secret = 'browser-test-secret';
let child = null;
let secure = null;

function jwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port: Number(port), host: '127.0.0.1' }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

async function launch(port, extra) {
  const proc = spawn(bin, ['--port', port, ...flags, ...extra], { stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = Date.now() + 15000;
  while (!(await portOpen(port))) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`gateway on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return proc;
}

async function start() {
  if (!child) child = await launch(wsPort, []);
}

async function kill() {
  const c = child;
  child = null;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = once(c, 'exit');
  c.kill('SIGKILL');
  await exited;
}

const routes = {
  '/start': start,
  '/kill': kill,
  '/restart': async () => { await kill(); await start(); },
  '/pause': async () => { child?.kill('SIGSTOP'); },
  '/resume': async () => { child?.kill('SIGCONT'); },
};

// Forwards a body to the gateway's /api/events, as a backend would (a page cannot: the
// gateway's API sends no CORS headers, by design).
async function publish(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const r = await fetch(`http://127.0.0.1:${wsPort}/api/events`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks),
  });
  if (r.status !== 202) throw new Error(`publish: ${r.status} ${await r.text()}`);
}

// A loopback TCP proxy in front of the main gateway: cutting it drops connections the way a
// network failure does, while the gateway keeps running (and keeps its history).
const piped = new Set();
if (process.env.PROXY_PORT) {
  net.createServer((client) => {
    const upstream = net.connect({ port: Number(wsPort), host: '127.0.0.1' });
    for (const s of [client, upstream]) { piped.add(s); s.on('error', () => {}); s.on('close', () => piped.delete(s)); }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }).listen(Number(process.env.PROXY_PORT), '127.0.0.1');
}
routes['/cut'] = async () => { for (const s of piped) s.destroy(); };

async function chaos(q) {
  const features = q.get('features').split(',');
  const rate = Number(q.get('rate') || 1000);
  const cuts = Number(q.get('cuts') || 50);
  let seed = Number(q.get('seed') || 1) >>> 0;
  const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const tick = 10; // ms
  const perTick = Math.max(1, Math.round((rate * tick) / 1000));
  const published = Object.fromEntries(features.map((f) => [f, 0]));
  const final = Object.fromEntries(features.map((f) => [f, {}]));
  let cutsLeft = cuts;
  let nextCut = Date.now() + 50 + random() * 300;
  let n = 0;
  while (cutsLeft > 0) {
    const started = Date.now();
    const events = [];
    for (let i = 0; i < perTick; i++) {
      const feature = features[Math.floor(random() * features.length)];
      const id = `i${Math.floor(random() * 20)}`;
      n += 1;
      published[feature] += 1;
      final[feature][id] = n;
      events.push({ feature, entity: 'item', action: 'updated', data: { id, n } });
    }
    const r = await fetch(`http://127.0.0.1:${wsPort}/api/events`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events),
    });
    if (r.status !== 202) throw new Error(`chaos publish: ${r.status}`);
    if (Date.now() >= nextCut) {
      for (const s of piped) s.destroy();
      cutsLeft -= 1;
      nextCut = Date.now() + 50 + random() * 300;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, tick - (Date.now() - started))));
  }
  return { published, final };
}

const server = http.createServer(async (req, res) => {
  res.setHeader('Access-Control-Allow-Origin', '*');
  if (req.url.startsWith('/token')) {
    const q = new URL(req.url, 'http://x').searchParams;
    const claims = { sub: q.get('sub') || 'u1', exp: Math.floor(Date.now() / 1000) + Number(q.get('ttl') || 60) };
    res.writeHead(200, { 'content-type': 'text/plain' }).end(jwt(claims));
    return;
  }
  if (req.url.startsWith('/chaos')) {
    try {
      const result = await chaos(new URL(req.url, 'http://x').searchParams);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
    } catch (e) { res.writeHead(500).end(String(e)); }
    return;
  }
  if (req.url === '/publish') {
    try { await publish(req); res.writeHead(204).end(); } catch (e) { res.writeHead(500).end(String(e)); }
    return;
  }
  const route = routes[req.url];
  if (!route) { res.writeHead(404).end(); return; }
  try { await route(); res.writeHead(204).end(); }
  catch (e) { res.writeHead(500).end(String(e)); }
});

async function shutdown() { await kill(); secure?.kill('SIGKILL'); server.close(); process.exit(0); }
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

await start();
if (securePort) secure = await launch(securePort, ['--jwt-secret', secret]);
server.listen(Number(ctlPort), '127.0.0.1', () => console.log(`harness: gateway on ${wsPort}, control on ${ctlPort}`));
