// Cross-tab sharing (`shareAcrossTabs`): for 1, 5 and 10 tabs of one browser, alone and
// shared, the gateway's connections and the WebSocket bytes the browser received (every
// page's frames, from the DevTools protocol) while the demo published 100 events/s for 5 s to
// the four features every tab subscribes to; then the handover time over 50 closes of the
// leader tab (from the close until every other tab is connected again, one of them leading).
// Real demo gateway on loopback, headless Chromium. Writes target/bench/tabs.json.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { launchBrowser, startDemo } from '../tests/e2e/harness.mjs';
import { percentile } from './lib.mjs';

const bin = existsSync('target/release/livestate-demo') ? 'target/release/livestate-demo' : 'target/debug/livestate-demo';
const server = await startDemo({ port: 23351, bin, staticDir: 'tests/e2e/share-page' });
const browser = await launchBrowser();
const rest = (method, path, body) => fetch(`${server.base}/demo/api/${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const metric = async (series) => {
  const line = (await (await fetch(`${server.base}/metrics`)).text()).split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.split(' ')[1]) : 0;
};
const connected = (page) => page.waitForFunction(() => window.tab?.status() === 'connected', null, { timeout: 30_000 });

async function traffic(n, shared) {
  const context = await browser.newContext();
  const pages = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.webSocketFrameReceived', (e) => { bytes += Buffer.byteLength(e.response.payloadData); });
    await page.goto(`${server.base}/?features=rbac,users,products,orders&key=bench-${n}${shared ? '' : '&share=0'}`);
    pages.push(page);
  }
  await Promise.all(pages.map(connected));
  const connections = await metric('livestate_connections');
  bytes = 0;
  await rest('PUT', 'activity', { rate: 100 });
  await new Promise((r) => setTimeout(r, 5000));
  await rest('PUT', 'activity', { rate: 0 });
  await new Promise((r) => setTimeout(r, 500));
  const events = await Promise.all(pages.map((p) => p.evaluate(() => Object.values(window.tab.seen).flat().length)));
  await context.close();
  return { tabs: n, shared, connections, bytes, eventsPerTab: Math.min(...events) };
}

const rows = [];
for (const n of [1, 5, 10]) for (const shared of [false, true]) {
  rows.push(await traffic(n, shared));
  console.log(JSON.stringify(rows.at(-1)));
}

// Handover: three tabs; close the leader, time until the others are all connected with one
// of them leading; open a tab to have three again; 50 times.
const context = await browser.newContext();
const open = async () => {
  const page = await context.newPage();
  await page.goto(`${server.base}/?features=products&key=handover`);
  await connected(page);
  return page;
};
let pages = [await open(), await open(), await open()];
const times = [];
for (let i = 0; i < 50; i++) {
  const flags = await Promise.all(pages.map((p) => p.evaluate(() => window.tab.leader())));
  const leader = pages[flags.indexOf(true)];
  const rest2 = pages.filter((p) => p !== leader);
  const before = await Promise.all(rest2.map((p) => p.evaluate(() => window.tab.client.stats().connects)));
  const t0 = performance.now();
  await leader.close();
  await Promise.all(rest2.map((p, k) => p.waitForFunction((c) => window.tab.status() === 'connected' && window.tab.client.stats().connects > c, before[k], { timeout: 30_000, polling: 10 })));
  await rest2[0].waitForFunction(() => true);
  times.push(performance.now() - t0);
  pages = [...rest2, await open()];
}
await context.close();
await browser.close();
server.stop();
const handover = { runs: times.length, p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times) };
console.log('handover ms', JSON.stringify(handover));
mkdirSync('target/bench', { recursive: true });
writeFileSync('target/bench/tabs.json', JSON.stringify({ rows, handover }, null, 2));
