// Starts the real demo binary (gateway + demo backend) on loopback and headless Chromium, for the
// end-to-end tests and for scripts/screenshots.mjs.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { chromium } from 'playwright-core';

/** Starts livestate-demo serving a static folder (www/ unless `staticDir` names another), pkg/
 *  and an Angular build (the example's unless `angularDir` names another); resolves once
 *  /healthz answers. */
export async function startDemo({ port, bin = process.env.DEMO_BIN ?? 'target/debug/livestate-demo', activityRate = 0, staticDir = 'www', angularDir = 'www/angular/dist/browser', args = [] }) {
  const server = spawn(bin, [
    '--port', String(port), '--host', '127.0.0.1', '--activity-rate', String(activityRate), '--heartbeat-interval', '1000',
    '--static-dir', staticDir, '--pkg-dir', 'pkg', '--angular-dir', angularDir, ...args,
  ], { stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  try {
    await serving(`${base}/healthz`, server, 'livestate-demo');
  } catch (e) {
    server.kill();
    throw e;
  }
  return { base, stop: () => server.kill() };
}

/** Resolves once `url` answers 200, polling every 100 ms for up to 30 s (a server process has
 *  no event that says it listens); fails at once if `child` exits first. */
export async function serving(url, child, what) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start`);
}

/** Headless Chromium from the system (playwright cannot download one here), with the flags a
 *  root container and a closed network need. */
export function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run', ...extraArgs],
  });
}

/** Types `value` into a row's field and commits it as a user would (Enter). */
export async function edit(page, id, name, value) {
  const input = page.locator(`tr[data-id="${id}"] [name="${name}"]`);
  await input.fill(String(value));
  await input.press('Enter');
}

/** A throw-away redis-server on `port` without persistence; resolves once it accepts connections. */
export async function startRedis(port) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (await canConnect(port)) return { stop: () => new Promise((r) => { child.once('exit', r); child.kill(); }) };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error('redis-server did not start');
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
}
