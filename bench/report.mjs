// Writes docs/benchmarks.md and its charts (docs/bench/*.svg) from target/bench/*.json, with
// the machine and the versions the figures were measured with.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { execSync } from 'node:child_process';
import os from 'node:os';

const load = (name) => (existsSync(`target/bench/${name}.json`) ? JSON.parse(readFileSync(`target/bench/${name}.json`, 'utf8')) : null);
const sh = (cmd) => { try { return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return 'unknown'; } };
const fmt = (n, digits = 0) => Number(n).toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
const COLORS = ['#3c5cde', '#d69e2e', '#805ad5', '#8a93a6', '#1f9d55', '#c53030'];

/** A horizontal grouped bar chart as SVG. groups: [{ label, bars: [{ label, value }] }]. */
function chart({ title, unit, groups, log = false }) {
  const names = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.label)))];
  const max = Math.max(...groups.flatMap((g) => g.bars.map((b) => b.value)));
  const min = log ? Math.max(1, Math.min(...groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => v > 0)) / 2) : 0;
  const scale = (v) => (log ? (Math.log10(Math.max(v, min)) - Math.log10(min)) / (Math.log10(max) - Math.log10(min)) : v / max) * 420;
  const bar = 16, gap = 10, left = 130, legend = 24 + 18 * Math.ceil(names.length / 2);
  let y = 40 + legend, body = '';
  for (const g of groups) {
    body += `<text x="8" y="${y + (g.bars.length * bar) / 2 + 4}" font-weight="600">${esc(g.label)}</text>`;
    for (const b of g.bars) {
      const w = Math.max(1, scale(b.value));
      body += `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${bar - 3}" fill="${COLORS[names.indexOf(b.label) % COLORS.length]}"/>`;
      body += `<text x="${left + w + 6}" y="${y + bar - 6}">${esc(fmt(b.value, b.value < 10 ? 2 : 0))}</text>`;
      y += bar;
    }
    y += gap;
  }
  const keys = names.map((n, i) => `<rect x="${8 + (i % 2) * 330}" y="${36 + Math.floor(i / 2) * 18}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${26 + (i % 2) * 330}" y="${46 + Math.floor(i / 2) * 18}">${esc(n)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="680" height="${y + 10}" font-family="system-ui,sans-serif" font-size="12">` +
    `<rect width="100%" height="100%" fill="#fff"/><text x="8" y="20" font-size="14" font-weight="700">${esc(title)}</text>` +
    `<text x="672" y="20" text-anchor="end" fill="#56607a">${esc(unit)}${log ? ' (log scale)' : ''}</text>${keys}${body}</svg>\n`;
}

mkdirSync('docs/bench', { recursive: true });
const out = [];
const md = (s = '') => out.push(s);
const size = load('size'), store = load('store'), latency = load('latency'), fanout = load('fanout'), tabs = load('tabs'), presence = load('presence');

md('# Benchmarks');
md();
md('Every figure below comes from one `make bench` run on the machine described at the end; the');
md('peers ran in the same run, on the same machine. Ratios are livestate against the peer. The');
md('targets are the ones the benchmark issue set; where one is missed, the text says why.');
md();

if (size) {
  writeFileSync('docs/bench/size.svg', chart({ title: 'Bundle size (esbuild, minified)', unit: 'KB gzip -9', groups: size.filter((r) => !r.name.startsWith('of which')).map((r) => ({ label: r.name.split(' ')[0], bars: [{ label: 'gzip -9', value: r.gzip / 1024 }, { label: 'brotli 11', value: r.brotli / 1024 }] })) }));
  md('## 1. Bundle size');
  md();
  md('![bundle size](bench/size.svg)');
  md();
  md('| package | raw | gzip -9 | brotli 11 | gzip vs livestate |');
  md('|---|---:|---:|---:|---:|');
  const ours = size[0].gzip;
  for (const r of size) md(`| ${r.name} | ${fmt(r.raw / 1024, 1)} KB | ${fmt(r.gzip / 1024, 1)} KB | ${fmt(r.brotli / 1024, 1)} KB | ${(r.gzip / ours).toFixed(2)}x |`);
  md();
  const apps = load('apps');
  if (apps) {
    md('The same minimal app (connect, listen to one event) built for production by Vite 8 with its defaults; every file the page loads is counted:');
    md();
    md('| app uses | raw | gzip -9 | brotli 11 | files |');
    md('|---|---:|---:|---:|---|');
    for (const a of apps) md(`| ${a.name} | ${fmt(a.raw / 1024, 1)} KB | ${fmt(a.gzip / 1024, 1)} KB | ${fmt(a.brotli / 1024, 1)} KB | ${a.files.map((f) => '`' + f.replace(/-[\w-]{8}\./, '-<hash>.') + '`').join(', ')} |`);
    md();
  }
  md('@@SIZE_NOTE@@');
  md();
  if (existsSync('target/bench/twiggy.txt')) {
    md('The 20 largest items of the .wasm (`twiggy top` on the release build with its function names');
    md('kept, by scripts/twiggy-top.sh; the percentages count the name section, which is not shipped):');
    md();
    md('```');
    md(readFileSync('target/bench/twiggy.txt', 'utf8').trimEnd());
    md('```');
    md();
  }
}

if (store) {
  const names = [...new Set(store.map((r) => r.name))];
  const sizes = [...new Set(store.map((r) => r.size))];
  writeFileSync('docs/bench/store.svg', chart({ title: 'Store apply in headless Chromium (route + apply)', unit: 'events/s', log: true, groups: sizes.map((n) => ({ label: `${fmt(n)} items`, bars: store.filter((r) => r.size === n).map((r) => ({ label: r.name, value: r.eventsPerSec })) })) }));
  const get = (variant, n) => store.find((r) => r.variant === variant && r.size === n);
  md('## 2. Store apply');
  md();
  md('![store apply](bench/store.svg)');
  md();
  md(`Events of about ${fmt(store[0].frameBytes)} bytes (the whole frame, as the gateway sends it) updating random items of a store; events/s is the median of ${store[0].repeats ?? 1} runs.`);
  md();
  md(`| items | ${names.join(' | ')} | livestate vs seed | livestate vs JSON.parse |`);
  md(`|---:|${names.map(() => '---:|').join('')}---:|---:|`);
  for (const n of sizes) {
    const a = get('a', n), b = get('b', n), d = get('d', n);
    md(`| ${fmt(n)} | ${names.map((name) => fmt(store.find((r) => r.size === n && r.name === name)?.eventsPerSec ?? NaN)).join(' | ')} | ${(a.eventsPerSec / b.eventsPerSec).toFixed(2)}x | ${(a.eventsPerSec / d.eventsPerSec).toFixed(2)}x |`);
  }
  md();
  // The client without a store (routing only) is listed too: what the store's figure includes
  // before the store holds anything.
  const mem = store.filter((r) => r.size === 10000 && r.variant !== 'd');
  const mb = (b) => `${fmt(b / 1024 / 1024, 2)} MB`;
  md('Memory each variant adds for 10 000 items, beyond the item objects themselves (JS heap growth after GC, and the growth of wasm linear memory for livestate), once while it holds the items before any event, and once after its timed run (which also counts the new item objects of the events it got through, so a slower variant looks lighter):');
  md();
  md('| variant | JS heap, holding the items | wasm memory, holding the items | JS heap after the run | wasm memory after the run |');
  md('|---|---:|---:|---:|---:|');
  for (const r of mem) md(`| ${r.name} | ${mb(r.heapBytes)} | ${r.wasmBytes ? mb(r.wasmBytes) : '–'} | ${mb(r.heapAfterBytes)} | ${r.wasmAfterBytes ? mb(r.wasmAfterBytes) : '–'} |`);
  md();
  md('@@STORE_NOTE@@');
  md();
}

if (latency) {
  writeFileSync('docs/bench/latency.svg', chart({ title: 'HTTP publish → applied in a browser store', unit: 'ms', groups: latency.map((r) => ({ label: `${r.rate}/s, others on ${r.othersFeature}`, bars: [{ label: 'p50', value: r.p50Ms }, { label: 'p99', value: r.p99Ms }] })) }));
  md('## 3. End-to-end latency');
  md();
  md('![latency](bench/latency.svg)');
  md();
  md('| events/s | 1 000 other clients subscribed to | p50 | p99 | max | applied |');
  md('|---:|---|---:|---:|---:|---:|');
  for (const r of latency) md(`| ${fmt(r.rate)} | ${r.othersFeature === 'products' ? 'the same feature (each event is delivered 1 001 times)' : 'another feature'} | ${fmt(r.p50Ms, 2)} ms | ${fmt(r.p99Ms, 2)} ms | ${fmt(r.maxMs, 1)} ms | ${fmt(r.received)}/${fmt(r.events)} |`);
  md();
  md('@@LATENCY_NOTE@@');
  md();
}

if (fanout) {
  const counts = [...new Set(fanout.map((r) => r.connections))];
  writeFileSync('docs/bench/fanout.svg', chart({ title: 'Gateway fan-out, one core each for gateway and load generator', unit: 'deliveries/s', groups: counts.map((n) => ({ label: `${fmt(n)} subscribers`, bars: fanout.filter((r) => r.connections === n).map((r) => ({ label: r.gateway, value: r.deliveriesPerSec })) })) }));
  md('## 4. Gateway fan-out');
  md();
  md('![fan-out](bench/fanout.svg)');
  md();
  md('| gateway | subscribers | deliveries/s | vs Node | p50 | p99 | memory per idle connection | RSS under load |');
  md('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of fanout) {
    const node = fanout.find((x) => x.connections === r.connections && x.gateway.startsWith('node'));
    md(`| ${r.gateway} | ${fmt(r.connections)} | ${fmt(r.deliveriesPerSec)} | ${(r.deliveriesPerSec / node.deliveriesPerSec).toFixed(1)}x | ${fmt(r.p50Ms, 1)} ms | ${fmt(r.p99Ms, 1)} ms | ${Number.isFinite(r.idleBytesPerConnection) ? `${fmt(r.idleBytesPerConnection / 1024, 1)} KB` : '–'} | ${r.peakRssMb ? `${fmt(r.peakRssMb, 0)} MB` : '–'} |`);
  }
  const uws = (n) => fanout.find((x) => x.connections === n && x.gateway.startsWith('uWebSockets'));
  const ours = (n) => fanout.find((x) => x.connections === n && x.gateway === 'livestate');
  if (uws(counts[0])) {
    md();
    md('Against uWebSockets.js pub/sub (issue 13\'s targets: throughput at least uWS\'s, p99 and RSS under load no worse):');
    md();
    md('| subscribers | deliveries/s vs uWS | p99 vs uWS | RSS under load vs uWS |');
    md('|---:|---:|---:|---:|');
    for (const n of counts) {
      const [a, u] = [ours(n), uws(n)];
      if (a && u) md(`| ${fmt(n)} | ${(a.deliveriesPerSec / u.deliveriesPerSec).toFixed(2)}x | ${(a.p99Ms / u.p99Ms).toFixed(2)}x | ${(a.peakRssMb / u.peakRssMb).toFixed(2)}x |`);
    }
  }
  md();
  md('@@FANOUT_NOTE@@');
  md();
}

if (tabs) {
  md('## 5. One connection per browser (`shareAcrossTabs`)');
  md();
  md('Tabs of one browser, each subscribed to the four demo features, while the demo published 100 events/s for 5 s: the gateway\'s connections, and the WebSocket bytes the browser received (all its pages).');
  md();
  md('| tabs | sharing | connections | bytes received by the browser | vs alone | events each tab got |');
  md('|---:|---|---:|---:|---:|---:|');
  for (const r of tabs.rows) {
    const alone = tabs.rows.find((x) => x.tabs === r.tabs && !x.shared);
    md(`| ${r.tabs} | ${r.shared ? 'shared' : 'alone'} | ${r.connections} | ${fmt(r.bytes / 1024, 0)} KB | ${(r.bytes / alone.bytes).toFixed(2)}x | ${fmt(r.eventsPerTab)} |`);
  }
  const h = tabs.handover;
  md();
  md(`Handover over ${h.runs} closes of the leader tab (three tabs; from the close until every other tab is connected again, one of them leading): p50 ${fmt(h.p50, 0)} ms, p99 ${fmt(h.p99, 0)} ms, max ${fmt(h.max, 0)} ms.`);
  md();
  md('@@TABS_NOTE@@');
  md();
}

if (presence) {
  md('## 6. Presence');
  md();
  md('N clients, connected and authenticated, subscribe at once to one feature: where the registry keeps its presence (they join it) and where it does not (the same subscribe without presence). Their tokens do not let them see the presence, so this is the cost of joining; memory is the gateway\'s RSS (and Redis\'s `used_memory`) with the clients in, with presence minus without, in one process, per member, at 10 000 members (at 1 000 it is below what RSS resolves).');
  md();
  md('| members | streams and presence | subscribe without presence | subscribe and join | subscribes with a join /s | gateway memory per member | Redis memory per member |');
  md('|---:|---|---:|---:|---:|---:|---:|');
  for (const r of presence.rows) {
    const mem = (v) => (r.members >= 10000 ? `${fmt(v, 0)} B` : '–');
    md(`| ${fmt(r.members)} | ${r.broker === 'redis' ? 'Redis' : 'one node (memory)'} | ${fmt(r.subscribeMs, 0)} ms | ${fmt(r.joinMs, 0)} ms | ${fmt(r.joinsPerSec, 0)} | ${mem(r.gatewayBytesPerMember)} | ${r.broker === 'redis' ? mem(r.redisBytesPerMember) : '–'} |`);
  }
  const w = presence.watching;
  md();
  md(`Every member watching (one node): ${fmt(w.members)} clients subscribing at once are all subscribed after ${fmt(w.ms, 0)} ms, while the gateway sends ${fmt(w.frames)} join frames among them.`);
  md();
  md('@@PRESENCE_NOTE@@');
  md();
}

md('## Machine, versions, commands');
md();
md(`- ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB, ${sh('uname -sr')}`);
md(`- ${sh('rustc --version')}; ${sh('/usr/bin/chromium --version')}; Node ${process.version}`);
// The run's own record (scripts/bench.sh), so a report regenerated later still names what was measured.
const run = existsSync('target/bench/run.json') ? JSON.parse(readFileSync('target/bench/run.json', 'utf8')) : { commit: sh('git rev-parse --short HEAD'), at: new Date().toISOString().slice(0, 16).replace('T', ' ') };
md(`- measured ${run.at} UTC at commit ${run.commit}${run.dirty ? ' with uncommitted changes' : ''}`);
md('- `make bench` runs, in order: `node bench/size.mjs`, `bash scripts/twiggy-top.sh`, `node bench/store.mjs`, `node bench/latency.mjs`, `node bench/fanout.mjs`, `node bench/tabs.mjs`, `node bench/presence.mjs`, `node bench/report.mjs` (see scripts/bench.sh). Each script says at its top what it measures and how.');
md();

let text = out.join('\n');
const notes = existsSync('bench/notes.md') ? readFileSync('bench/notes.md', 'utf8') : '';
for (const key of ['SIZE', 'STORE', 'LATENCY', 'FANOUT', 'TABS', 'PRESENCE']) {
  const m = new RegExp(`<!-- ${key} -->\\n([\\s\\S]*?)<!-- /${key} -->`).exec(notes);
  text = text.replace(`@@${key}_NOTE@@`, m ? m[1].trim() : '');
}
writeFileSync('docs/benchmarks.md', text);
console.log('wrote docs/benchmarks.md and docs/bench/*.svg');
