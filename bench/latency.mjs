// End-to-end latency: from the HTTP publish to the event applied in a browser's RealtimeStore,
// p50 and p99, at 100 and 1 000 events/s, while 1 000 other clients (the load generator) are
// connected to the same gateway: subscribed to another feature (idle), then to the same one
// (each event is also delivered 1 000 times). Writes target/bench/latency.json.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { writeFileSync, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { launchBrowser, percentile, serveStatic } from './lib.mjs';

const RATES = (process.env.BENCH_LATENCY_RATES ?? '100,1000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 10);
const OTHERS = Number(process.env.BENCH_LATENCY_OTHERS ?? 1000);
const PORT = 23400;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const clock = () => performance.timeOrigin + performance.now();

mkdirSync('target/bench', { recursive: true });
await build({ entryPoints: ['bench/latency/main.ts'], bundle: true, format: 'esm', target: 'es2022', minify: true, outfile: 'target/bench/latency.js', logLevel: 'warning' });

const gateway = spawn('target/release/livestate-server', ['--port', String(PORT), '--max-connections', '20000', '--cors-origin', '*'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } });
const server = await serveStatic({ '/pkg/': 'pkg', '/bench/': 'target/bench', '/': 'bench/latency' });
const browser = await launchBrowser();
const results = [];
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
let others;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`latency page: ${e.message}`));
  await page.goto(`${server.base}/index.html?ws=ws://127.0.0.1:${PORT}/ws`);
  await page.waitForFunction(() => window.ready === true);

  // The page's clock minus ours, from the round trip with the smallest delay.
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < 30; i++) {
    const t0 = clock();
    const theirs = await page.evaluate(() => window.clock());
    const t1 = clock();
    if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: theirs - (t0 + t1) / 2 };
  }
  await page.evaluate((ms) => window.setOffset(ms), best.offset);

  for (const [othersFeature, rate] of ['users', 'products'].flatMap((f) => RATES.map((r) => [f, r]))) {
    if (others?.feature !== othersFeature) {
      others?.child.stdin.end();
      const child = spawn('target/release/livestate-loadgen', ['--addr', `127.0.0.1:${PORT}`, '--connections', String(OTHERS), '--feature', othersFeature, '--seconds', '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
      others = { feature: othersFeature, child };
      await new Promise((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (l) => 'ready' in JSON.parse(l) && resolve());
        child.on('exit', (code) => reject(new Error(`loadgen exited with ${code}`)));
      });
    }
    // node:http with keep-alive: far lighter than fetch, so the publisher is not the bottleneck.
    const publish = (i) => new Promise((resolve, reject) => {
      const body = JSON.stringify({ feature: 'products', entity: 'product', action: 'updated', data: { id: `p-${i % 100}`, price: 10 + (i % 50), t: clock() } });
      const req = request({ host: '127.0.0.1', port: PORT, path: '/api/events', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`publish: HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
    // A warm-up second, then the measured run: events spread evenly, 1 ms ticks.
    for (const [measure, seconds] of [[false, 1], [true, SECONDS]]) {
      await page.evaluate(() => window.take());
      const start = clock();
      let sent = 0;
      const pending = [];
      while (clock() - start < seconds * 1000) {
        const due = Math.floor(((clock() - start) / 1000) * rate);
        while (sent < due) pending.push(publish(sent++));
        await sleep(1);
      }
      await Promise.all(pending);
      await sleep(500);
      const lat = await page.evaluate(() => window.take());
      if (process.env.DEBUG) console.log(JSON.stringify(await page.evaluate(() => window.stats())), (await (await fetch(`http://127.0.0.1:${PORT}/metrics`)).text()).split('\n').filter((l) => /^livestate_(events|drop|conn)/.test(l)).join(' | '));
      if (!measure) continue;
      const row = { rate, others: OTHERS, othersFeature, events: sent, received: lat.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: percentile(lat, 100), clockRttMs: best.rtt };
      results.push(row);
      console.log(`latency ${String(rate).padStart(5)} events/s, ${OTHERS} other clients on ${othersFeature.padEnd(8)}: p50 ${row.p50Ms.toFixed(2)} ms, p99 ${row.p99Ms.toFixed(2)} ms (${row.received}/${row.events} applied)`);
    }
  }
} finally {
  await browser.close();
  server.close();
  others?.child.stdin.end();
  gateway.kill();
}
writeFileSync('target/bench/latency.json', JSON.stringify(results, null, 2));
