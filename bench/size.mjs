// `make size`: the npm package's weight (wasm + JS glue) against the realtime clients users
// would pick instead, all built the same way (esbuild, tree-shaken, minified), gzip -9 and
// brotli 11. Prints a table; exits 0 (a record, not a gate). With --check it is the gate of
// `make test` against size-budget.json, and measures only livestate.
import { build } from 'esbuild';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

async function bundle(entry) {
  const out = await build({
    stdin: { contents: entry, resolveDir: process.cwd(), loader: 'js' },
    bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2020', write: false, logLevel: 'silent',
  });
  return Buffer.from(out.outputFiles[0].contents);
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
mkdirSync('target/bench', { recursive: true });
writeFileSync('target/bench/size.json', JSON.stringify(rows.map(([name, raw, gzip, brotli]) => ({ name: name.trim(), raw, gzip, brotli })), null, 2));
