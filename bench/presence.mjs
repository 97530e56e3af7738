// Presence cost: joins per second and memory per member, on one node and with Redis. The
// gateway (release build, CPU 0, with redis-server beside it) and the load generator (CPU 1)
// as in bench/fanout.mjs. N clients connect and authenticate, then all subscribe at once to one
// feature (timed from the first subscribe to the last `subscribed`): once where the
// registry keeps its presence, once where it does not; the difference is what presence costs.
// Their tokens make them members without letting them see the presence (`"presence": []`), so
// the rows measure joining, not telling every member of every other join; a last row has
// every member watching (tokens without the claim), where N joins send N(N-1)/2 join frames.
// Writes target/bench/presence.json.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createConnection } from 'node:net';

const COUNTS = (process.env.BENCH_PRESENCE_MEMBERS ?? '1000,10000').split(',').map(Number);
const WATCHING = Number(process.env.BENCH_PRESENCE_WATCHING ?? 1000);
const LOADGEN = 'target/release/livestate-loadgen';
const SECRET = 'bench-secret';
const REDIS_PORT = 26410;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

const registry = 'target/bench/presence-features.json';
mkdirSync('target/bench', { recursive: true });
writeFileSync(registry, JSON.stringify({
  present: { entities: ['member'], actions: ['updated'], presence: { maxMembers: 100000 } },
  absent: { entities: ['member'], actions: ['updated'] },
}));

/** An HS256 token, signed here (the bench needs no JWT package). */
function token(claims) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

/** Sends one inline command to redis-server; resolves with the reply once `done(reply)` matches. */
function redis(command, done) {
  return new Promise((resolve, reject) => {
    const s = createConnection(REDIS_PORT, '127.0.0.1');
    let data = '';
    s.on('data', (d) => {
      data += d;
      const m = done.exec(data);
      if (m) {
        s.end();
        resolve(m);
      }
    });
    s.on('error', reject);
    s.write(command + '\r\n');
  });
}
/** Redis's own memory (INFO memory: used_memory). */
const redisMemory = async () => Number((await redis('INFO memory', /used_memory:(\d+)/))[1]);

async function startGateway(port, extra) {
  const args = ['-c', '0', 'target/release/livestate-server', '--port', String(port), '--max-connections', '20000',
    '--max-connections-per-user', '100000', '--jwt-secret', SECRET, '--features-file', registry, ...extra];
  const child = spawn('taskset', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
    } catch {}
    await sleep(100);
  }
  throw new Error('the gateway did not start');
}

/** N clients subscribe to `feature`; resolves once all are in, with the time it took, and a
 *  function that closes them. */
function subscribe(port, n, feature, tok) {
  const args = ['-c', '1', LOADGEN, '--addr', `127.0.0.1:${port}`, '--connections', String(n), '--feature', feature, '--seconds', '0'];
  if (tok) args.push('--token', tok);
  const child = spawn('taskset', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line);
      if ('ready' in m) resolve({ ms: m.subscribeMs, close: () => child.stdin.end() });
    });
    child.on('exit', (code) => code && reject(new Error(`loadgen exited with ${code}`)));
  });
}

let port = 23450;
/** Connects `n` clients subscribing to `feature`, and measures while they are in. */
async function measure(gateway, n, shared, feature, tok) {
  const clients = await subscribe(port, n, feature, tok);
  await sleep(1000);
  const out = { ms: clients.ms, rssKb: rssKb(gateway.pid), redisBytes: shared ? await redisMemory() : 0 };
  if (feature === 'present') {
    const body = await (await fetch(`http://127.0.0.1:${port}/api/features/present/presence`)).json();
    out.members = body.members.length;
  }
  clients.close();
  // The clients leave (and with Redis, their members) before the next run connects.
  for (let i = 0; i < 300; i++) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    if (/^livestate_connections 0$/m.test(text)) break;
    await sleep(100);
  }
  await sleep(500);
  return out;
}

/** One gateway: N clients subscribe without presence twice (the first run sizes the
 *  allocator's pools for N connections; the second is the baseline), then with presence. The
 *  memory difference is what presence holds for N members, measured in one process so that
 *  the connections' own buffers (about 100 times more) are reused, not counted. */
async function row(n, shared, tok) {
  if (shared) await redis('FLUSHALL', /\+OK/);
  const gateway = await startGateway(++port, shared ? ['--broker', `redis://127.0.0.1:${REDIS_PORT}/`] : []);
  try {
    await measure(gateway, n, shared, 'absent', tok);
    const without = await measure(gateway, n, shared, 'absent', tok);
    const withPresence = await measure(gateway, n, shared, 'present', tok);
    return { without, withPresence };
  } finally {
    gateway.kill();
    await new Promise((r) => gateway.on('exit', r));
    await sleep(300);
  }
}

const results = { rows: [] };
const redisServer = spawn('taskset', ['-c', '0', 'redis-server', '--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
await sleep(500);
try {
  const now = Math.floor(Date.now() / 1000);
  const blind = token({ sub: 'bench', exp: now + 3600, presence: [] });
  for (const shared of [false, true]) {
    for (const n of COUNTS) {
      const { without, withPresence } = await row(n, shared, blind);
      if (withPresence.members !== n) throw new Error(`${withPresence.members} of ${n} members listed`);
      const r = {
        members: n,
        broker: shared ? 'redis' : 'memory',
        subscribeMs: without.ms,
        joinMs: withPresence.ms,
        joinsPerSec: n / (withPresence.ms / 1000),
        gatewayBytesPerMember: ((withPresence.rssKb - without.rssKb) * 1024) / n,
        redisBytesPerMember: shared ? (withPresence.redisBytes - without.redisBytes) / n : 0,
      };
      console.log(JSON.stringify(r));
      results.rows.push(r);
    }
  }
  const { withPresence: watching } = await row(WATCHING, false, token({ sub: 'bench', exp: now + 3600 }));
  results.watching = { members: WATCHING, ms: watching.ms, frames: (WATCHING * (WATCHING - 1)) / 2 };
  console.log(JSON.stringify(results.watching));
} finally {
  redisServer.kill();
}
writeFileSync('target/bench/presence.json', JSON.stringify(results, null, 2));
