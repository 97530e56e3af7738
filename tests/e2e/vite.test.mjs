// End-to-end: a fresh Vite app that installs the packed tarball the way a user would, served by
// Vite's dev server (which pre-bundles dependencies) and built for production, each connecting
// to the real gateway in headless Chromium. No Vite configuration at all: the package must work
// as installed. Run by scripts/test.sh after the package is built.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { launchBrowser, serving, startDemo } from './harness.mjs';

const APP = resolve('target/vite-app');
const VITE = resolve('node_modules/.bin/vite');
const DEV_PORT = Number(process.env.VITE_DEV_PORT ?? 23338);
const PREVIEW_PORT = DEV_PORT + 1;
let gateway, strict, browser;
const children = [];

// The app: one page per entry, each reporting the client's status in its title.
const page = (entry) => `import init, { RealtimeClient } from '${entry}';
import { RealtimeClient as Main } from 'livestate-client';
try {
  await init();
  const client = new RealtimeClient({ url: new URLSearchParams(location.search).get('ws') });
  if (RealtimeClient !== Main) throw new Error('the entries export different classes');
  client.onStatus((status) => { document.title = status; });
  client.onError((e) => { if (e.kind === 'unreachable') document.title = 'unreachable: ' + e.message; });
  client.connect();
} catch (e) {
  document.title = 'error: ' + e.message;
}
`;
const html = (script) => `<!doctype html><html><head><title>loading</title><link rel="icon" href="data:,"></head>
<body><script type="module" src="/${script}"></script></body></html>`;

before(async () => {
  rmSync(APP, { recursive: true, force: true });
  mkdirSync(APP, { recursive: true });
  execFileSync('npm', ['pack', '--silent', '--pack-destination', APP], { cwd: 'pkg' });
  const tarball = readdirSync(APP).find((f) => f.endsWith('.tgz'));
  writeFileSync(`${APP}/package.json`, JSON.stringify({ name: 'fresh-vite-app', private: true, type: 'module' }));
  writeFileSync(`${APP}/main.js`, page('livestate-client'));
  writeFileSync(`${APP}/inline.js`, page('livestate-client/inline'));
  writeFileSync(`${APP}/index.html`, html('main.js'));
  writeFileSync(`${APP}/inline.html`, html('inline.js'));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', `./${tarball}`], { cwd: APP });
  gateway = await startDemo({ port: Number(process.env.DEMO_VITE_PORT ?? 23337) });
  // A gateway that allows another origin only: the browser sees its 403 as a failed socket.
  strict = await startDemo({ port: DEV_PORT + 2, args: ['--cors-origin', 'https://app.example.com'] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  gateway?.stop();
  strict?.stop();
  for (const child of children) child.kill();
});

/** Starts a Vite command in the app and resolves once it serves `port`. */
const started = new Set();
async function vite(args, port) {
  if (started.has(port)) return;
  started.add(port);
  const child = spawn(VITE, [...args, '--port', String(port), '--strictPort', '--host', '127.0.0.1'], { cwd: APP, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await serving(`http://127.0.0.1:${port}/`, child, `vite ${args.join(' ')}`.trim());
}

/** Opens `path` against `to`'s WebSocket and resolves to the page's title once its client
 *  connected, failed, or told the app it cannot reach the gateway. */
async function open(port, path, to = gateway) {
  const tab = await browser.newPage();
  const errors = [];
  tab.on('pageerror', (e) => errors.push(e.message));
  await tab.goto(`http://127.0.0.1:${port}${path}?ws=${encodeURIComponent(to.base.replace('http', 'ws') + '/ws')}`);
  await tab.waitForFunction(() => /^(connected|error|unreachable)/.test(document.title), null, { timeout: 20_000 });
  const title = await tab.title();
  await tab.close();
  return `${title}${errors.length ? ' ' + errors.join('; ') : ''}`;
}

async function connects(port, path) {
  assert.equal(await open(port, path), 'connected', path);
}

test('a fresh Vite app connects through the package in the dev server, with either entry and no configuration', async () => {
  await vite([], DEV_PORT);
  await connects(DEV_PORT, '/');
  await connects(DEV_PORT, '/inline.html');
});

test('a gateway that refuses the page\'s origin is reported to the app with what to check, not retried in silence', async () => {
  await vite([], DEV_PORT);
  const title = await open(DEV_PORT, '/', strict);
  assert.match(title, /^unreachable: could not open a WebSocket to ws:\/\/127\.0\.0\.1:\d+\/ws: .*--cors-origin/);
  assert.match(title, new RegExp(`http://127\\.0\\.0\\.1:${DEV_PORT} in its --cors-origin`));
});

test("a fresh Vite app's production build ships the wasm under a name that changes with its content", async () => {
  execFileSync(VITE, ['build', '--logLevel', 'warn'], { cwd: APP });
  const assets = readdirSync(`${APP}/dist/assets`);
  assert.ok(assets.some((f) => /^livestate_bg-[\w-]+\.wasm$/.test(f)), `a hashed .wasm among ${assets}`);
  await vite(['preview'], PREVIEW_PORT);
  await connects(PREVIEW_PORT, '/');
});
