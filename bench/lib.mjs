// Helpers shared by the benchmark runners: a static file server, headless Chromium, a seeded
// random generator and percentiles.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
export { launchBrowser } from '../tests/e2e/harness.mjs';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

/** Serves `routes` ({ '/prefix': 'dir' }) on a loopback port; resolves to { base, close }. */
export function serveStatic(routes) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    for (const [prefix, dir] of Object.entries(routes)) {
      if (!path.startsWith(prefix)) continue;
      const rest = normalize('/' + path.slice(prefix.length)).replace(/^(\.\.[/\\])+/, '');
      try {
        const body = await readFile(join(dir, rest === '/' ? 'index.html' : rest));
        res.writeHead(200, { 'content-type': TYPES[extname(rest)] ?? 'application/octet-stream' });
        return res.end(body);
      } catch {}
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ base: `http://127.0.0.1:${server.address().port}`, close: () => server.close() })));
}

/** Percentile `p` (0..100) of a list of numbers. */
export function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
