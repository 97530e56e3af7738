// `make screenshots`: the demo page and the Angular example mid-use (one edit failing and
// rolled back, one pending, background activity on, two tabs online), saved as
// docs/screenshots/*.png for the README. Needs the builds `make demo` makes; run by
// scripts/screenshots.sh.
import { edit, launchBrowser, startDemo } from '../tests/e2e/harness.mjs';

const wait = (ms) => new Promise((r) => setTimeout(r, ms));
const server = await startDemo({ port: 23337, bin: 'target/release/livestate-demo', activityRate: 3 });
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  await page.goto(`${server.base}/?name=Ada`);
  await page.locator('#status[data-status=connected]').waitFor();
  // A second tab, someone else: the "Online" panel lists both.
  const other = await browser.newPage();
  await other.goto(`${server.base}/?name=Linus`);
  await page.waitForFunction(() => document.querySelector('#presence dd[data-feature="users"]')?.textContent.includes('Linus'));
  await wait(3000); // some activity in the log
  await page.locator('#fail-next').check();
  await edit(page, 'role-2', 'name', 'Support (rolled back)');
  await wait(1000);
  await edit(page, 'prod-3', 'price', 259);
  await wait(900); // the role's request has failed, the price is still saving
  await page.screenshot({ path: 'docs/screenshots/demo.png' });

  const angular = await browser.newPage({ viewport: { width: 1440, height: 600 } });
  await angular.goto(`${server.base}/angular/`);
  await angular.locator('#status[data-status=connected]').waitFor();
  await edit(angular, 'role-4', 'name', 'Catalogue editors');
  await wait(500);
  await angular.screenshot({ path: 'docs/screenshots/angular.png' });
} finally {
  await browser.close();
  server.stop();
}
console.log('wrote docs/screenshots/demo.png and docs/screenshots/angular.png');
