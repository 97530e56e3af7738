// The package as an app gets it: `npm pack` in pkg/, installed from the tarball into an empty
// app folder, then resolved and imported by Node the way a bundler resolves it (the `exports`
// map). Checks the name, the entry points and the package's own README. Prints "pack: N passed".
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const out = resolve('target/pack');
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}/app`, { recursive: true });
let passed = 0;
let failed = 0;
const check = (ok, what) => {
  if (ok) passed += 1;
  else {
    failed += 1;
    console.log(`FAIL ${what}`);
  }
};

const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: 'pkg', encoding: 'utf8' }));
const files = new Set(packed.files.map((f) => f.path));
check(packed.name === 'livestate-client', `the package is livestate-client (the name livestate is taken on npm), not ${packed.name}`);
const manifest = JSON.parse(readFileSync('pkg/package.json', 'utf8'));
const targets = [manifest.exports['.'].types, manifest.exports['.'].import, manifest.exports['./livestate_bg.wasm']];
check(targets.every((t) => files.has(t.replace('./', ''))), `every exports target is in the tarball: ${targets}`);
check(!manifest.repository || !/example\.invalid/.test(JSON.stringify(manifest.repository)), 'no placeholder repository');
const readme = readFileSync('pkg/README.md', 'utf8');
check(files.has('README.md') && readme.startsWith('# livestate-client') && !/\bmake \w|scripts\//.test(readme), "the package's README is for users: no make targets or scripts");

writeFileSync(`${out}/app/package.json`, JSON.stringify({ name: 'app', private: true, type: 'module' }));
execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', `${out}/${packed.filename}`], { cwd: `${out}/app` });
const probe = `
  const m = await import('livestate-client');
  const names = ['default', 'initSync', 'RealtimeClient', 'RealtimeStore', 'LivestateError', 'isLivestateError'];
  const wasm = import.meta.resolve('livestate-client/livestate_bg.wasm');
  console.log(JSON.stringify({ missing: names.filter((n) => typeof m[n] !== 'function'), wasm }));`;
const seen = JSON.parse(execFileSync('node', ['--input-type=module', '-e', probe], { cwd: `${out}/app`, encoding: 'utf8' }));
check(seen.missing.length === 0, `the entry exports every class and function: missing ${seen.missing}`);
check(seen.wasm.endsWith('/node_modules/livestate-client/livestate_bg.wasm'), `the wasm resolves as a subpath: ${seen.wasm}`);
// livestate-client/inline: no .wasm file to serve; init() compiles the bytes the JS carries.
const inline = `
  const m = await import('livestate-client/inline');
  await m.default();
  const client = new m.RealtimeClient({ url: 'ws://127.0.0.1:9/ws' });
  console.log(JSON.stringify({ status: client.status, same: m.RealtimeStore === (await import('livestate-client')).RealtimeStore }));`;
const run = JSON.parse(execFileSync('node', ['--input-type=module', '-e', inline], { cwd: `${out}/app`, encoding: 'utf8' }));
check(run.status === 'disconnected' && run.same, `the inline entry loads its own wasm and exports the same classes: ${JSON.stringify(run)}`);
console.log(`pack: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
