// Gateway fan-out: livestate's gateway against the Node ws baseline (bench/node-gateway.mjs) and
// uWebSockets.js pub/sub (bench/uws-gateway.mjs),
// each pinned to CPU 0 with the load generator on CPU 1. For 1 000 and 10 000 subscribers of one
// feature: memory per idle connection (RSS growth / connections), then deliveries/s and latency
// while the load generator publishes over HTTP as fast as the gateway delivers.
// Then the scale-out row: two livestate nodes sharing a redis-server (all three on CPU 0), the
// subscribers spread over both and events published to the first, against one node.
// Writes target/bench/fanout.json.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

const COUNTS = (process.env.BENCH_FANOUT_CONNECTIONS ?? '1000,10000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_FANOUT_SECONDS ?? 8);
// For a quick look at one gateway: BENCH_FANOUT_ONLY=livestate (a substring of the row names);
// the scale-out row and the JSON file are then skipped.
const ONLY = process.env.BENCH_FANOUT_ONLY;
const LOADGEN = 'target/release/livestate-loadgen';
const REDIS_PORT = 26400;
const livestate = (port, ...extra) => ['target/release/livestate-server', '--port', port, '--max-connections', '20000', '--outbound-queue', '1024', ...extra];
const GATEWAYS = {
  livestate: (port) => livestate(port),
  'node ws (seed design)': (port) => ['node', 'bench/node-gateway.mjs', port],
  'uWebSockets.js pub/sub': (port) => ['node', 'bench/uws-gateway.mjs', port],
};

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startRedis() {
  const child = spawn('taskset', ['-c', '0', 'redis-server', '--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await sleep(300);
  return child;
}

async function startGateway(command, port) {
  const child = spawn('taskset', ['-c', '0', ...command(String(port))], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${command(port).join(' ')} did not start`);
}

/** Runs the load generator on CPU 1; `onReady` runs once every subscriber is in. Resolves to its last JSON line. */
function loadgen(args, onReady) {
  const child = spawn('taskset', ['-c', '1', LOADGEN, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  createInterface({ input: child.stdout }).on('line', async (line) => {
    lines.push(JSON.parse(line));
    if ('ready' in lines.at(-1) && onReady) await onReady(child);
  });
  return new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve(lines.at(-1)) : reject(new Error(`loadgen exited with ${code}`)))));
}

mkdirSync('target/bench', { recursive: true });
const results = [];
let port = 23410; // below the ephemeral range (32768+), which 20 000 client sockets use
for (const [name, command] of Object.entries(GATEWAYS).filter(([n]) => !ONLY || n.includes(ONLY))) {
  for (const connections of COUNTS) {
    const gateway = await startGateway(command, ++port);
    await sleep(300);
    const before = rssKb(gateway.pid);
    let idleKb;
    await loadgen(['--addr', `127.0.0.1:${port}`, '--connections', String(connections), '--seconds', '0'], async (child) => {
      await sleep(500);
      idleKb = rssKb(gateway.pid) - before;
      child.stdin.end();
    });
    await sleep(500); // the gateway notices the closed sockets
    // The gateway's RSS under load: its peak, sampled while the load generator runs.
    let peakKb = 0;
    const sampler = setInterval(() => (peakKb = Math.max(peakKb, rssKb(gateway.pid))), 200);
    const run = await loadgen(['--addr', `127.0.0.1:${port}`, '--connections', String(connections), '--seconds', String(SECONDS), '--window', '8']);
    clearInterval(sampler);
    gateway.kill();
    const row = { gateway: name, connections, idleBytesPerConnection: (idleKb * 1024) / connections, peakRssMb: peakKb / 1024, ...run };
    results.push(row);
    console.log(`fanout ${name.padEnd(22)} ${String(connections).padStart(6)} conns  ${Math.round(row.deliveriesPerSec).toLocaleString('en').padStart(10)} deliveries/s  p50 ${row.p50Ms.toFixed(1)} ms  p99 ${row.p99Ms.toFixed(1)} ms  ${(row.idleBytesPerConnection / 1024).toFixed(1)} KB/idle conn  ${row.peakRssMb.toFixed(0)} MB RSS under load  (${row.deliveries}/${row.expected} delivered)`);
    await sleep(300);
  }
}
if (ONLY) process.exit(0);
// Scale-out: 2 nodes + Redis against the 1-node row above, at the first subscriber count.
{
  const connections = COUNTS[0];
  const redis = await startRedis();
  const broker = ['--broker', `redis://127.0.0.1:${REDIS_PORT}/`];
  const nodes = [await startGateway((p) => livestate(p, ...broker), ++port), await startGateway((p) => livestate(p, ...broker), ++port)];
  const addrs = [port - 1, port].map((p) => `127.0.0.1:${p}`).join(',');
  await sleep(300);
  const run = await loadgen(['--addr', addrs, '--connections', String(connections), '--seconds', String(SECONDS), '--window', '8']);
  for (const n of nodes) n.kill();
  redis.kill();
  const row = { gateway: 'livestate, 2 nodes + Redis', connections, idleBytesPerConnection: NaN, ...run };
  results.push(row);
  console.log(`fanout ${row.gateway.padEnd(22)} ${String(connections).padStart(6)} conns  ${Math.round(row.deliveriesPerSec).toLocaleString('en').padStart(10)} deliveries/s  p50 ${row.p50Ms.toFixed(1)} ms  p99 ${row.p99Ms.toFixed(1)} ms  (${row.deliveries}/${row.expected} delivered)`);
}
writeFileSync('target/bench/fanout.json', JSON.stringify(results, null, 2));
