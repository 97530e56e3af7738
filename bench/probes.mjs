// Node probes behind figures quoted in comments and bench/notes.md (not part of make bench):
// a store's key lookup after JSON.parse, a Map against a prototype-free dictionary object, in
// time and memory, at 10 000 and 100 000 keys; and the cost of a clock call.
//   node --expose-gc bench/probes.mjs
// Node runs V8 without pointer compression, so its memory figures are about twice Chromium's;
// compare the two rows of one size, not the figures with the store bench's.
const text = (i) => `p-${String(i).padStart(6, '0')}`;
const KEYS = { 'text keys': text, 'number keys': (i) => i };
let state = 0x9e3779b9;
const random = () => { state ^= state << 13; state ^= state >>> 17; state ^= state << 5; return (state >>> 0) / 4294967296; };

for (const n of [10_000, 100_000]) {
  for (const [kind, key] of Object.entries(KEYS)) {
    const map = new Map();
    const dict = Object.create(null);
    for (let i = 0; i < n; i++) { map.set(String(key(i)), i); dict[key(i)] = i; }
    const frames = Array.from({ length: 300_000 }, () => JSON.stringify({ data: { id: key(Math.floor(random() * n)), name: 'x', price: 1.5 } }));
    const best = { parse: Infinity, map: Infinity, dict: Infinity };
    for (let rep = 0; rep < 8; rep++) {
      let acc = 0;
      let t = performance.now();
      for (const f of frames) acc += JSON.parse(f).data.price;
      best.parse = Math.min(best.parse, performance.now() - t);
      t = performance.now();
      for (const f of frames) { const id = JSON.parse(f).data.id; acc += map.get(typeof id === 'string' ? id : String(id)); }
      best.map = Math.min(best.map, performance.now() - t);
      t = performance.now();
      for (const f of frames) acc += dict[JSON.parse(f).data.id];
      best.dict = Math.min(best.dict, performance.now() - t);
      if (!(acc > 0)) throw new Error('lookups failed');
    }
    const ns = (ms) => ((ms - best.parse) * 1e6 / frames.length).toFixed(0);
    console.log(`${n} ${kind}: lookup after JSON.parse (best of 8, JSON.parse subtracted): Map ${ns(best.map)} ns, dictionary ${ns(best.dict)} ns`);
  }
  const keys = Array.from({ length: n }, (_, i) => text(i));
  const held = (fill) => { globalThis.gc?.(); const before = process.memoryUsage().heapUsed; const x = fill(); globalThis.gc?.(); const used = process.memoryUsage().heapUsed - before; return [used, x]; };
  const [mapBytes] = held(() => { const m = new Map(); keys.forEach((k, i) => m.set(k, i)); return m; });
  const [dictBytes] = held(() => { const d = Object.create(null); keys.forEach((k, i) => { d[k] = i; }); return d; });
  console.log(`${n} text keys: memory${globalThis.gc ? '' : ' (run with --expose-gc)'}: Map ${(mapBytes / 2 ** 20).toFixed(2)} MiB, dictionary ${(dictBytes / 2 ** 20).toFixed(2)} MiB`);
}

for (const [name, clock] of [['Date.now()', () => Date.now()], ['performance.now()', () => performance.now()]]) {
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    let s = 0;
    const t = performance.now();
    for (let i = 0; i < 5_000_000; i++) s += clock();
    best = Math.min(best, performance.now() - t);
    if (!(s > 0)) throw new Error('clock');
  }
  console.log(`${name}: ${(best * 1e6 / 5_000_000).toFixed(0)} ns a call`);
}
