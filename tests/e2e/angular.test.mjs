// End-to-end: a fresh Angular 21 app (tests/e2e/angular-app, as a team writes it from the
// package's README) installs the packed tarball, then runs under `ng serve` with the README's
// proxy, as a production build, and server-side rendered, against the real demo gateway in
// headless Chromium. No Angular configuration for the package: no assets entry, no prebundle
// exclusion. Run by scripts/test.sh after the package is built.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { launchBrowser, serving, startDemo } from './harness.mjs';

const APP = resolve('target/angular-app');
const PORT = Number(process.env.ANGULAR_DEV_PORT ?? 23340);
let gateway, browser;
const children = [];

before(async () => {
  rmSync(APP, { recursive: true, force: true });
  cpSync('tests/e2e/angular-app', APP, { recursive: true });
  execFileSync('npm', ['pack', '--silent', '--pack-destination', APP], { cwd: 'pkg' });
  const tarball = readdirSync(APP).find((f) => f.endsWith('.tgz'));
  // Angular 21.2.24 throughout: the newest release of @angular/platform-server on the registry.
  const angular = '21.2.24';
  writeFileSync(`${APP}/package.json`, JSON.stringify({
    name: 'fresh-angular-app',
    private: true,
    dependencies: {
      '@angular/common': angular, '@angular/compiler': angular, '@angular/core': angular,
      '@angular/platform-browser': angular, '@angular/platform-server': angular,
      '@ngrx/signals': '21.1.1', 'livestate-client': `file:./${tarball}`, rxjs: '7.8.2', tslib: '2.8.1',
    },
    devDependencies: { '@angular/build': '21.2.27', '@angular/cli': '21.2.27', '@angular/compiler-cli': angular, typescript: '5.9.3' },
  }, null, 2));
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: APP, stdio: 'inherit' });
  gateway = await startDemo({ port: Number(process.env.DEMO_ANGULAR_PORT ?? 23341) });
  // The README's proxy for `ng serve`: the socket and the REST API go to the gateway.
  writeFileSync(`${APP}/proxy.conf.json`, JSON.stringify({
    '/ws': { target: gateway.base, ws: true },
    '/demo/api': { target: gateway.base },
  }));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  gateway?.stop();
  for (const child of children) child.kill();
});

const ng = (args, options = {}) => spawn(resolve(APP, 'node_modules/.bin/ng'), args, { cwd: APP, env: { ...process.env, NG_CLI_ANALYTICS: 'false' }, ...options });

const rest = async (base, method, path, body) => {
  const response = await fetch(`${base}/demo/api/${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.json();
};

/** Opens the app at `url`, waits until it is connected with both lists, then changes a role, a
 *  user and an order through the REST API of the demo at `base` and waits for the page to show
 *  each change. */
async function liveUpdates(url, base) {
  const tab = await browser.newPage();
  const errors = [];
  tab.on('pageerror', (e) => errors.push(e.message));
  tab.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  try {
    await tab.goto(url);
    await tab.locator('#status[data-status=connected]').waitFor({ timeout: 20_000 });
    await tab.locator('#roles li[data-id="role-1"]').waitFor();
    await tab.locator('#users li[data-id="user-1"]').waitFor();
    // The page's own connection, from the presence signal.
    await tab.locator('#online li', { hasText: 'angular' }).waitFor();
    const stamp = Date.now().toString(36);
    await rest(base, 'PATCH', 'rbac/role/role-1', { name: `Admins ${stamp}` });
    await tab.locator('#roles li[data-id="role-1"]', { hasText: `Admins ${stamp}` }).waitFor();
    await rest(base, 'PATCH', 'users/user/user-1', { name: `Ada ${stamp}` });
    await tab.locator('#users li[data-id="user-1"]', { hasText: `Ada ${stamp}` }).waitFor();
    const order = (await rest(base, 'GET', 'orders/order')).find((o) => o.status === 'created');
    await rest(base, 'PATCH', `orders/order/${order.id}`, { status: 'paid' });
    await tab.locator('#paid', { hasText: String(order.total) }).waitFor();
  } catch (e) {
    throw new Error(`${e.message}\npage errors: ${errors.join('; ') || 'none'}`);
  } finally {
    await tab.close();
  }
  assert.deepEqual(errors, [], 'no errors on the page');
}

test('a fresh Angular app under ng serve, with the README\'s proxy and no other configuration, gets live updates through the adapter', async () => {
  const server = ng(['serve', '--port', String(PORT), '--host', '127.0.0.1', '--proxy-config', 'proxy.conf.json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(server);
  // Its output is shown only if it fails (killed at the end, its esbuild child complains).
  let log = '';
  server.stderr.on('data', (chunk) => { log += chunk; });
  await serving(`http://127.0.0.1:${PORT}/`, server, 'ng serve').catch((e) => { throw new Error(`${e.message}\n${log}`); });
  await liveUpdates(`http://127.0.0.1:${PORT}/`, gateway.base);
});

test("a fresh Angular app's production build type-checks the adapter strictly and works without an assets entry", async () => {
  execFileSync(resolve(APP, 'node_modules/.bin/ng'), ['build', '--base-href', '/angular/', '--progress=false'], { cwd: APP, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NG_CLI_ANALYTICS: 'false' } });
  const files = readdirSync(`${APP}/dist/browser`);
  assert.ok(!files.some((f) => f.endsWith('.wasm')), `no separate .wasm to copy or cache: ${files}`);
  // The demo binary serves a built Angular app under /angular/, beside the gateway.
  const served = await startDemo({ port: PORT + 2, angularDir: `${APP}/dist/browser` });
  try {
    await liveUpdates(`${served.base}/angular/`, served.base);
  } finally {
    served.stop();
  }
});

test('server-side rendering with the adapter opens no socket, loads no wasm, and renders the loaded data', () => {
  const out = JSON.parse(execFileSync('node', ['ssr.mjs'], { cwd: APP, encoding: 'utf8' }).trim().split('\n').pop());
  assert.equal(out.sockets, 0, 'no WebSocket on the server');
  assert.equal(out.wasm, 0, 'no wasm loaded on the server');
  assert.match(out.html, /<p id="status">disconnected<\/p>/);
  assert.match(out.html, /<li>Admins<\/li>/);
  assert.match(out.html, /<li>Ada<\/li>/);
});
