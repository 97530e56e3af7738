// RealtimeStore's TypeScript declaration is written by hand (for its generics), so this check
// keeps it from drifting from the class: every method and getter the generated class has must
// be declared, and every declared member must exist. consumer.ts then calls each one under tsc.
import { readFileSync } from 'node:fs';
import { RealtimeStore } from '../../pkg/livestate.js';

const proto = RealtimeStore.prototype;
const actual = new Set(Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor' && !n.startsWith('__')));
const dts = readFileSync(new URL('../../pkg/livestate.d.ts', import.meta.url), 'utf8');
const body = dts.match(/export class RealtimeStore<[^{]*\{([\s\S]*?)\n\}/)[1];
const declared = new Set(
  [...body.matchAll(/^\s+(?:readonly\s+)?([A-Za-z_]\w*)\s*[(<:?]/gm)].map((m) => m[1]).filter((n) => n !== 'constructor'),
);
const missing = [...actual].filter((n) => !declared.has(n));
const extra = [...declared].filter((n) => !actual.has(n));
if (missing.length || extra.length) {
  console.log(`RealtimeStore typings drifted: not declared: [${missing}], declared but absent: [${extra}]`);
  console.log('store typings: 0 passed, 1 failed');
  process.exit(1);
}
console.log(`RealtimeStore: ${actual.size} members, each declared`);
console.log('store typings: 1 passed, 0 failed');
