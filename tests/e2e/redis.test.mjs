// End-to-end scale-out: the demo binary with `--broker` on a real redis-server, and the demo
// page in headless Chromium. Restarting Redis (no persistence, so the stream is lost) makes the
// page's client resync and its lists converge with the backend, then follow live events again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startDemo, startRedis } from './harness.mjs';

const REDIS_PORT = Number(process.env.E2E_REDIS_PORT ?? 26479);
let redis, server, browser;

before(async () => {
  redis = await startRedis(REDIS_PORT);
  server = await startDemo({ port: Number(process.env.DEMO_REDIS_PORT ?? 23336), args: ['--broker', `redis://127.0.0.1:${REDIS_PORT}/`] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.stop();
  await redis?.stop();
});

const rest = async (method, path, body) => {
  const response = await fetch(`${server.base}/demo/api/${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.json();
};
const health = async () => (await fetch(`${server.base}/healthz`)).status;
async function until(f) {
  for (let i = 0; i < 200; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met within 10 s');
}
const nameIs = (page, id, value) =>
  page.waitForFunction(([id, value]) => document.querySelector(`tr[data-id="${id}"] [name="name"]`)?.value === value, [id, value]);

test('restarting Redis makes the page resync, converge with the backend and follow live events again', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.base}/`);
  await page.locator('#status[data-status=connected]').waitFor();
  await page.locator('tr[data-id="role-1"]').waitFor();
  // `connected` comes with the welcome, before the gateway has the subscription: its presence
  // snapshot (the page's own connection) comes after it has.
  await page.waitForFunction(() => window.livestate.presence('rbac').length === 1);

  await rest('PATCH', 'rbac/role/role-1', { name: 'Through Redis' });
  await nameIs(page, 'role-1', 'Through Redis');

  await redis.stop();
  await until(async () => (await health()) === 503);
  await rest('PATCH', 'rbac/role/role-2', { name: 'Changed while Redis was down' });
  assert.equal(await page.locator('#status').getAttribute('data-status'), 'connected', 'clients stay connected');

  redis = await startRedis(REDIS_PORT);
  await until(async () => (await health()) === 200);
  await nameIs(page, 'role-2', 'Changed while Redis was down');
  await until(() => page.evaluate(() => window.livestate.stats().resyncs > 0));

  await rest('PATCH', 'rbac/role/role-3', { name: 'Live again' });
  await nameIs(page, 'role-3', 'Live again');
  const roles = await rest('GET', 'rbac/role');
  try {
    for (const role of roles) await nameIs(page, role.id, role.name);
  } catch (e) {
    const shown = await page.evaluate(() => [...document.querySelectorAll('#panel-rbac-role tr')].map((tr) => `${tr.dataset.id}=${tr.querySelector('[name=name]')?.value}`));
    throw new Error(`the page shows ${shown.join(', ')}; the backend has ${roles.map((r) => `${r.id}=${r.name}`).join(', ')}`);
  }
  assert.deepEqual(errors, []);
  await page.close();
});
