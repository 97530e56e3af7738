// Runs the real gateway for the browser tests and lets them kill, restart, pause and resume
// it over HTTP (a browser test cannot spawn processes). Started and stopped by scripts/test.sh.
//
//   node gateway-harness.mjs <gateway-binary> <ws-port> <control-port> [gateway flags...]
//   POST /kill | /start | /restart | /pause | /resume   (204 once done)
//   POST /publish   body forwarded to the gateway's POST /api/events
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';

const [bin, wsPort, ctlPort, ...flags] = process.argv.slice(2);
let child = null;

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port: Number(port), host: '127.0.0.1' }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

async function start() {
  if (child) return;
  child = spawn(bin, ['--port', wsPort, ...flags], { stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = Date.now() + 15000;
  while (!(await portOpen(wsPort))) {
    if (Date.now() > deadline) throw new Error('gateway did not start within 15 s');
    await new Promise((r) => setTimeout(r, 20));
  }
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

const server = http.createServer(async (req, res) => {
  res.setHeader('Access-Control-Allow-Origin', '*');
  if (req.url === '/publish') {
    try { await publish(req); res.writeHead(204).end(); } catch (e) { res.writeHead(500).end(String(e)); }
    return;
  }
  const route = routes[req.url];
  if (!route) { res.writeHead(404).end(); return; }
  try { await route(); res.writeHead(204).end(); }
  catch (e) { res.writeHead(500).end(String(e)); }
});

async function shutdown() { await kill(); server.close(); process.exit(0); }
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

await start();
server.listen(Number(ctlPort), '127.0.0.1', () => console.log(`harness: gateway on ${wsPort}, control on ${ctlPort}`));
