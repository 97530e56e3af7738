// Store apply in headless Chromium: every variant at every size, one fresh page per run.
// Writes target/bench/store.json. See bench/store/main.ts for what each variant does.
import { build } from 'esbuild';
import { writeFileSync, mkdirSync } from 'node:fs';
import { launchBrowser, serveStatic } from './lib.mjs';

const SIZES = (process.env.BENCH_STORE_SIZES ?? '100,1000,10000,100000').split(',').map(Number);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const ALL = { a: 'livestate RealtimeStore', r: 'livestate client routing only (no store)', b: 'seed design (RxJS + signal + items.map)', c: '@ngrx/signals withEntities', d: 'JSON.parse alone (floor)', k: 'JSON.parse + Map.set by key (keyed floor)' };
// BENCH_STORE_VARIANTS=a,d runs only those (for trying a change; make bench runs them all).
const pick = process.env.BENCH_STORE_VARIANTS?.split(',');
const VARIANTS = Object.fromEntries(Object.entries(ALL).filter(([v]) => !pick || pick.includes(v)));

mkdirSync('target/bench', { recursive: true });
// Production settings, as an Angular production build would bundle these libraries.
await build({
  entryPoints: ['bench/store/main.ts'], bundle: true, format: 'esm', target: 'es2022', minify: true,
  define: { ngDevMode: 'false' }, outfile: 'target/bench/store.js', logLevel: 'warning',
});
const server = await serveStatic({ '/pkg/': 'pkg', '/bench/': 'target/bench', '/': 'bench/store' });
const browser = await launchBrowser(['--js-flags=--expose-gc', '--enable-precise-memory-info']);
const results = [];
try {
  for (const size of SIZES) {
    // Variants interleaved within each repeat, so a slow spell of this machine hits them all;
    // each run on a fresh page, and the median of REPEATS runs is kept.
    const runs = Object.fromEntries(Object.keys(VARIANTS).map((v) => [v, []]));
    for (let i = 0; i < REPEATS; i++) {
      for (const variant of Object.keys(VARIANTS)) {
        const page = await browser.newPage();
        page.on('pageerror', (e) => console.error(`${variant}/${size}: ${e.message}`));
        await page.goto(`${server.base}/index.html?variant=${variant}&size=${size}`);
        await page.waitForFunction(() => 'run' in window);
        runs[variant].push(await page.evaluate(() => window.run()));
        await page.close();
      }
    }
    for (const [variant, name] of Object.entries(VARIANTS)) {
      const sorted = runs[variant].sort((x, y) => x.eventsPerSec - y.eventsPerSec);
      const r = sorted[Math.floor(sorted.length / 2)];
      results.push({ ...r, name, repeats: REPEATS, runs: sorted.map((x) => Math.round(x.eventsPerSec)) });
      console.log(`store ${String(size).padStart(6)} items  ${name.padEnd(42)} ${Math.round(r.eventsPerSec).toLocaleString('en').padStart(11)} events/s  (median of ${REPEATS}: ${sorted.map((x) => Math.round(x.eventsPerSec / 1000) + 'k').join(' ')}; ${r.frameBytes.toFixed(0)} B/frame)`);
    }
  }
} finally {
  await browser.close();
  server.close();
}
writeFileSync('target/bench/store.json', JSON.stringify(results, null, 2));
