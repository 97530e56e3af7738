// End-to-end: the real demo binary (gateway + demo backend) on loopback, driven through headless
// Chromium with playwright-core: what a user sees in the demo page and the Angular example.
// Run by scripts/test.sh after scripts/build-demo.sh (DEMO_BIN names the binary).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { edit, launchBrowser, startDemo } from './harness.mjs';

const ARTIFACTS = 'target/e2e';
let server, browser, BASE;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startDemo({ port: Number(process.env.DEMO_PORT ?? 23335) });
  BASE = server.base;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** Opens a page, records console errors and page errors, waits until it is connected and shows rows. */
async function open(path, name) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(`${name}: ${m.text()}`); });
  page.on('pageerror', (e) => page.errors.push(`${name}: ${e.message}`));
  await page.goto(`${BASE}${path}`);
  await page.locator('#status[data-status=connected]').waitFor();
  await page.locator('tr[data-id="role-1"]').waitFor();
  return page;
}

// What Chromium logs for the failures these tests cause on purpose.
const FAILED_REQUEST = /Failed to load resource: the server responded with a status of 503/;
const REFUSED_HANDSHAKE = /WebSocket connection to .* failed/;

const rest = async (method, path, body) => {
  const response = await fetch(`${BASE}/demo/api/${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
  return response.json();
};

const field = (page, id, name) => page.locator(`tr[data-id="${id}"] [name="${name}"]`);
const valueIs = (page, id, name, value) =>
  page.waitForFunction(([id, name, value]) => document.querySelector(`tr[data-id="${id}"] [name="${name}"]`)?.value === value, [id, name, String(value)]);

/** Runs `body`, then closes the pages and asserts they logged no console errors beyond the
 *  `expected` ones (the browser logs a failed request or handshake that a test caused). On
 *  failure it keeps a screenshot of each page under target/e2e. */
async function withPages(label, pages, body, expected = []) {
  try {
    await body();
  } catch (e) {
    for (const [i, page] of pages.entries()) await page.screenshot({ path: `${ARTIFACTS}/${label}-${i}.png` }).catch(() => {});
    throw e;
  } finally {
    const errors = pages.flatMap((p) => p.errors).filter((e) => !expected.some((re) => re.test(e)));
    await Promise.all(pages.map((p) => p.close()));
    assert.deepEqual(errors, [], 'no console errors');
  }
}

test('the demo page and the Angular app load with their lists and no console errors', async () => {
  const demo = await open('/', 'demo');
  const angular = await open('/angular/', 'angular');
  await withPages('load', [demo, angular], async () => {
    for (const id of ['role-1', 'user-1', 'prod-1', 'order-1']) await demo.locator(`tr[data-id="${id}"]`).waitFor();
    assert.equal(await angular.locator('app-role-list tr[data-id]').count(), (await rest('GET', 'rbac/role')).length);
    assert.equal(await angular.locator('app-user-list tr[data-id]').count(), (await rest('GET', 'users/user')).length);
    // Each sees the other online: the Angular example through injectPresence.
    await angular.locator('#online', { hasText: 'Angular example' }).waitFor();
    await demo.locator('#presence dd[data-feature="users"]', { hasText: 'Angular example' }).waitFor();
    assert.match(await angular.locator('#online').innerText(), /online: .+, .+/);
  });
});

test("an edit saved through REST in one page appears in the other page's list", async () => {
  const demo = await open('/', 'demo');
  const angular = await open('/angular/', 'angular');
  await withPages('rest', [demo, angular], async () => {
    await demo.locator('#slow').uncheck();
    await edit(demo, 'role-2', 'name', 'Support (EMEA)');
    await valueIs(angular, 'role-2', 'name', 'Support (EMEA)');

    await angular.locator('#slow').uncheck();
    await edit(angular, 'role-4', 'name', 'Catalogue editors');
    await valueIs(demo, 'role-4', 'name', 'Catalogue editors');
    assert.equal((await rest('GET', 'rbac/role/role-4')).name, 'Catalogue editors');
  });
});

test('an optimistic edit that fails reverts and shows an error, and a concurrent update from the other page survives', async () => {
  const a = await open('/', 'demo A');
  const b = await open('/', 'demo B');
  await withPages('revert', [a, b], async () => {
    const before = await rest('GET', 'products/product/prod-2');
    await a.locator('#slow').check(); // the failing request takes 1.5 s
    await a.locator('#fail-next').check();
    await b.locator('#slow').uncheck();

    await edit(a, 'prod-2', 'name', 'Renamed, but the API fails');
    await a.locator('tr[data-id="prod-2"] .saving').waitFor(); // shown at once, pending
    await edit(b, 'prod-2', 'stock', 99); // lands while A's request is still in flight
    await valueIs(a, 'prod-2', 'stock', 99);
    assert.equal(await field(a, 'prod-2', 'name').inputValue(), 'Renamed, but the API fails');

    await a.locator('tr[data-id="prod-2"] .failed').waitFor();
    await valueIs(a, 'prod-2', 'name', before.name);
    assert.equal(await field(a, 'prod-2', 'stock').inputValue(), '99');
    assert.match(await a.locator('#errors').innerText(), /prod-2: the demo backend was told to fail this request \(rolled back\)/);
    await valueIs(b, 'prod-2', 'name', before.name);
  }, [FAILED_REQUEST]);

  const angular = await open('/angular/', 'angular');
  await withPages('revert-angular', [angular], async () => {
    const before = await rest('GET', 'rbac/role/role-3');
    await angular.locator('#fail-next').check();
    await edit(angular, 'role-3', 'name', 'Never saved');
    await angular.locator('tr[data-id="role-3"] .saving').waitFor();
    await rest('PATCH', 'rbac/role/role-3', { permissions: ['perm-1', 'perm-2'] }); // concurrent, another field
    await angular.locator('tr[data-id="role-3"] .failed').waitFor();
    await valueIs(angular, 'role-3', 'name', before.name);
    assert.match(await angular.locator('tr[data-id="role-3"]').innerText(), /2 permissions/);
    assert.match(await angular.locator('.failure').innerText(), /rolled back: the demo backend was told to fail this request/);
  }, [FAILED_REQUEST]);
});

test('a concurrent server update of a field being edited is flagged as a conflict', async () => {
  const a = await open('/', 'demo A');
  await withPages('conflict', [a], async () => {
    await a.locator('#slow').check();
    await edit(a, 'prod-4', 'price', 150);
    await a.locator('tr[data-id="prod-4"] .saving').waitFor();
    await rest('PATCH', 'products/product/prod-4', { price: 175 });
    await a.locator('tr[data-id="prod-4"] .conflict').waitFor();
    // A's request was sent after the other change, so it is the server's final word.
    await a.locator('tr[data-id="prod-4"] .saving').waitFor({ state: 'detached' });
    await valueIs(a, 'prod-4', 'price', 150);
    assert.equal((await rest('GET', 'products/product/prod-4')).price, 150);
  });
});

test('killing the connection leads to a reconnect, and the events missed meanwhile appear', async () => {
  const demo = await open('/', 'demo');
  const angular = await open('/angular/', 'angular');
  await withPages('outage', [demo, angular], async () => {
    const connects = await demo.evaluate(() => window.livestate.stats().connects);
    await demo.locator('#outage').click(); // 3 s in which the gateway refuses connections
    await demo.locator('#status[data-status=reconnecting]').waitFor();
    await angular.locator('#status[data-status=reconnecting]').waitFor();

    const order = await rest('POST', 'orders/order', { customer: 'Offline Olga', productId: 'prod-1', quantity: 2, total: 178 });
    await rest('PATCH', 'products/product/prod-5', { stock: 7 });
    await rest('PATCH', 'rbac/role/role-1', { name: 'Admins (renamed offline)' });

    await demo.locator('#status[data-status=connected]').waitFor({ timeout: 15_000 });
    await demo.locator(`tr[data-id="${order.id}"]`).waitFor();
    await valueIs(demo, 'prod-5', 'stock', 7);
    await valueIs(demo, 'role-1', 'name', 'Admins (renamed offline)');
    await valueIs(angular, 'role-1', 'name', 'Admins (renamed offline)');

    // They came back as events (recovered from the gateway's history), not by reloading.
    const log = await demo.locator('#log').innerText();
    assert.match(log, new RegExp(`orders\\.order\\.created .*"${order.id}"`));
    assert.match(log, /products\.inventory\.stock_changed .*"prod-5"/);
    const stats = await demo.evaluate(() => window.livestate.stats());
    assert.equal(stats.resyncs, 0);
    assert.ok(stats.connects > connects, `reconnected (${connects} -> ${stats.connects})`);
  }, [REFUSED_HANDSHAKE]);
});

test('each tab sees who is online per feature, sees a closed tab leave, and lists no one who left during an outage', async () => {
  const [ann, bob, carl] = [await open('/?name=Ann', 'ann'), await open('/?name=Bob', 'bob'), await open('/?name=Carl', 'carl')];
  const online = (page, feature) => page.locator(`#presence dd[data-feature="${feature}"]`);
  const members = (page) => page.evaluate(() => window.livestate.presence('users').map((m) => m.info.name).sort().join(','));
  await withPages('presence', [ann, bob], async () => {
    for (const feature of ['rbac', 'users', 'products', 'orders']) {
      await online(ann, feature).filter({ hasText: 'Carl' }).waitFor();
      await online(carl, feature).filter({ hasText: 'Ann' }).waitFor();
    }
    assert.equal(await online(ann, 'users').locator('.you').innerText(), 'Ann');
    await carl.close();
    await ann.waitForFunction(() => !document.querySelector('#presence dd[data-feature="users"]').textContent.includes('Carl'));
    assert.equal(await members(ann), 'Ann,Bob');

    // During an outage every connection is dropped (no leave reaches anyone); Bob closes his tab
    // meanwhile. After the reconnect, Ann's list is the gateway's fresh snapshot: Bob is gone,
    // and Ann is listed once, under her new connection.
    await ann.locator('#outage').click();
    await ann.locator('#status[data-status=reconnecting]').waitFor();
    await bob.close();
    await ann.locator('#status[data-status=connected]').waitFor({ timeout: 15_000 });
    await ann.waitForFunction(() => window.livestate.presence('users').length === 1, null, { timeout: 5_000 });
    assert.equal(await members(ann), 'Ann');
    assert.equal(await online(ann, 'orders').innerText(), 'Ann');
  }, [REFUSED_HANDSHAKE]);
});
