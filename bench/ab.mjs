// A/B of two builds of the package on the store benchmark page (bench/store), in alternating
// fresh pages of one browser, so a slow spell of the machine hits both: for trying a change to
// the client or the store. Not part of make bench.
//   cp -r pkg /tmp/a; (change, then bash scripts/build-pkg.sh); cp -r pkg /tmp/b
//   NODE_PATH=bench/node_modules node bench/ab.mjs /tmp/a /tmp/b [size=100000] [pairs=10] [variant=a]
// Prints each side's median events/s, their ratio, and in how many pairs B was faster.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { launchBrowser, serveStatic } from './lib.mjs';

const [A, B, size = '100000', pairs = '10', variant = 'a'] = process.argv.slice(2);
if (!A || !B) throw new Error('usage: node bench/ab.mjs <pkg dir A> <pkg dir B> [size] [pairs] [variant]');
const pages = 'target/bench/ab';
for (const [side, dir] of [['A', A], ['B', B]]) {
  mkdirSync(`${pages}/${side}`, { recursive: true });
  const out = `${pages}/${side}/store.js`;
  await build({
    entryPoints: ['bench/store/main.ts'], bundle: true, format: 'esm', target: 'es2022', minify: true,
    define: { ngDevMode: 'false' }, outfile: out, logLevel: 'warning',
    plugins: [{ name: 'pkg', setup: (b) => b.onResolve({ filter: /pkg\/livestate\.js$/ }, () => ({ path: resolve(dir, 'livestate.js') })) }],
  });
  writeFileSync(out, readFileSync(out, 'utf8').replace('/pkg/livestate_bg.wasm', `/w${side}/livestate_bg.wasm`));
  writeFileSync(`${pages}/${side}/index.html`, `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="/p${side}/store.js"></script>`);
}
const server = await serveStatic({ '/wA/': A, '/wB/': B, '/pA/': `${pages}/A`, '/pB/': `${pages}/B` });
const browser = await launchBrowser(['--js-flags=--expose-gc', '--enable-precise-memory-info']);
const runs = { A: [], B: [] };
try {
  for (let i = 0; i < Number(pairs); i++) {
    for (const side of i % 2 ? ['B', 'A'] : ['A', 'B']) {
      const page = await browser.newPage();
      page.on('pageerror', (e) => console.error(`${side}: ${e.message}`));
      await page.goto(`${server.base}/p${side}/index.html?variant=${variant}&size=${size}`);
      await page.waitForFunction(() => 'run' in window);
      runs[side].push((await page.evaluate(() => window.run())).eventsPerSec);
      await page.close();
    }
  }
} finally {
  await browser.close();
  server.close();
}
const median = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
const wins = runs.A.filter((a, i) => runs.B[i] > a).length;
console.log(`${size} items: A ${Math.round(median(runs.A) / 1000)}k, B ${Math.round(median(runs.B) / 1000)}k events/s (medians), B/A ${(median(runs.B) / median(runs.A)).toFixed(3)}, B faster in ${wins} of ${pairs} pairs`);
for (const side of ['A', 'B']) console.log(side, runs[side].map((x) => Math.round(x / 1000) + 'k').join(' '));
