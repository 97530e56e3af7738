// `make size`: the npm package's weight (wasm + JS glue) against the realtime clients users
// would pick instead, all built the same way (esbuild, tree-shaken, minified), gzip -9 and
// brotli 11; then the same minimal app built by Vite 8 with each of them (target/bench/apps.json).
// Prints the tables; exits 0 (a record, not a gate). With --check it is the gate of `make test`
// against size-budget.json, and measures only livestate.
import { build } from 'esbuild';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

/** The JS a page loads at start for `entry`, bundled as an app's bundler would (split: a
 *  chunk only reached through `import()` loads when used, so it is returned apart, `lazy`). */
async function bundle(entry) {
  const out = await build({
    stdin: { contents: entry, resolveDir: process.cwd(), loader: 'js', sourcefile: 'entry.js' },
    bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2020', write: false, logLevel: 'silent',
    splitting: true, outdir: 'target/size-bundle', metafile: true,
  });
  const files = new Map(out.outputFiles.map((f) => [resolve(f.path), Buffer.from(f.contents)]));
  const outputs = out.metafile.outputs;
  const start = Object.keys(outputs).find((k) => outputs[k].entryPoint);
  const eager = new Set();
  for (const todo = [start]; todo.length; ) {
    const k = todo.pop();
    if (eager.has(k)) continue;
    eager.add(k);
    for (const i of outputs[k].imports) if (i.kind === 'import-statement') todo.push(i.path);
  }
  const pick = (keep) => Buffer.concat(Object.keys(outputs).filter((k) => k.endsWith('.js') && eager.has(k) === keep).map((k) => files.get(resolve(k))));
  const code = pick(true);
  code.lazy = pick(false);
  return code;
}

const rows = [];
const wasm = readFileSync('pkg/livestate_bg.wasm');
const glue = await bundle(`export { default, RealtimeClient, RealtimeStore } from './pkg/livestate.js';`);
rows.push(['livestate (wasm + JS glue)', wasm.length + glue.length, gz(wasm) + gz(glue), br(wasm) + br(glue)]);

// `--check`: the size budget of `make test` (size-budget.json, as size-limit and bundlewatch
// keep theirs): fails with the figure and the budget when the package outgrows it.
if (process.argv.includes('--check')) {
  const budget = JSON.parse(readFileSync('size-budget.json', 'utf8'));
  const size = rows[0][2];
  const line = `livestate wasm + JS glue: ${size} B gzip -9 (wasm ${gz(wasm)} B, JS ${gz(glue)} B); budget ${budget.gzipBytes} B`;
  if (size > budget.gzipBytes) {
    console.log(`${line}: OVER by ${size - budget.gzipBytes} B`);
    console.log('size budget: 0 passed, 1 failed');
    process.exit(1);
  }
  console.log(`${line}: ${budget.gzipBytes - size} B to spare`);
  console.log('size budget: 1 passed, 0 failed');
  process.exit(0);
}
rows.push(['  of which .wasm', wasm.length, gz(wasm), br(wasm)]);
rows.push(['  of which JS glue', glue.length, gz(glue), br(glue)]);
rows.push(['  + shareAcrossTabs chunk (loaded only with the option)', glue.lazy.length, gz(glue.lazy), br(glue.lazy)]);
for (const [name, entry] of [
  ['centrifuge 5.8.0', `export { Centrifuge } from 'centrifuge';`],
  ['socket.io-client 4.8.4', `export { io } from 'socket.io-client';`],
  ['phoenix 1.8.16', `export { Socket } from 'phoenix';`],
]) {
  const b = await bundle(entry);
  rows.push([name, b.length, gz(b), br(b)]);
}
const ours = rows[0][2];
console.log('| package | raw B | gzip-9 B | brotli-11 B | gzip vs livestate |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, raw, g, b] of rows) {
  console.log(`| ${name} | ${raw} | ${g} | ${b} | ${(g / ours).toFixed(2)}x |`);
}
// The same minimal app (connect, listen to one event) as a team would ship it: a production
// build by Vite 8 with its defaults, every asset the page loads counted (JS, and the .wasm where
// there is one). The apps live under bench/ so the peers resolve from bench/node_modules.
const { build: viteBuild } = await import('vite');
const APPS = [
  ['livestate-client', `import init, { RealtimeClient } from 'livestate-client';
await init();
const c = new RealtimeClient({ url: '/ws' });
c.subscribeToEvent('rbac', 'role', 'created', (d) => console.log(d));
c.connect();`],
  ['livestate-client/inline', `import init from 'livestate-client/inline';
import { RealtimeClient } from 'livestate-client';
await init();
const c = new RealtimeClient({ url: '/ws' });
c.subscribeToEvent('rbac', 'role', 'created', (d) => console.log(d));
c.connect();`],
  ['centrifuge 5.8.0', `import { Centrifuge } from 'centrifuge';
const c = new Centrifuge('ws://localhost/connection/websocket');
c.newSubscription('rbac').on('publication', (ctx) => console.log(ctx.data)).subscribe();
c.connect();`],
  ['socket.io-client 4.8.4', `import { io } from 'socket.io-client';
const s = io('/');
s.on('rbac.role.created', (d) => console.log(d));`],
];
const apps = [];
for (const [name, code] of APPS) {
  const dir = `bench/.apps/${name.replace(/[^a-z0-9]+/gi, '-')}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/index.html`, '<!doctype html><script type="module" src="./main.js"></script>');
  writeFileSync(`${dir}/main.js`, code);
  const out = await viteBuild({
    root: dir, logLevel: 'silent', configFile: false,
    plugins: [{ name: 'pkg', resolveId: (id) => (id === 'livestate-client' ? resolve('pkg/livestate.js') : id === 'livestate-client/inline' ? resolve('pkg/inline.js') : null) }],
    build: { outDir: 'dist', emptyOutDir: true, write: true },
  });
  // What the page loads: the inline entry's app never fetches the .wasm that Vite still emits
  // (the main entry's `new URL('livestate_bg.wasm', import.meta.url)` is in the same module),
  // and no app loads a chunk only reached through import() that it never calls (the
  // shareAcrossTabs code).
  const files = out.output.filter((f) => !f.fileName.endsWith('.html') && !(name.endsWith('/inline') && f.fileName.endsWith('.wasm')) && !(f.type === 'chunk' && f.isDynamicEntry));
  const bytes = files.map((f) => Buffer.from(f.type === 'chunk' ? f.code : f.source));
  apps.push({ name, raw: bytes.reduce((n, b) => n + b.length, 0), gzip: bytes.reduce((n, b) => n + gz(b), 0), brotli: bytes.reduce((n, b) => n + br(b), 0), files: files.map((f) => f.fileName) });
}
console.log('\n| minimal app, Vite 8 production build | raw B | gzip-9 B | files |');
console.log('|---|---:|---:|---|');
for (const a of apps) console.log(`| ${a.name} | ${a.raw} | ${a.gzip} | ${a.files.join(', ')} |`);
mkdirSync('target/bench', { recursive: true });
writeFileSync('target/bench/apps.json', JSON.stringify(apps, null, 2));
writeFileSync('target/bench/size.json', JSON.stringify(rows.map(([name, raw, gzip, brotli]) => ({ name: name.trim(), raw, gzip, brotli })), null, 2));
