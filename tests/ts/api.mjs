// The classes are JavaScript and their TypeScript declarations (src/js/livestate.d.ts) are
// written by hand, so this check keeps them from drifting apart: every public method and
// getter of RealtimeClient, Subscription and RealtimeStore must be declared, and every declared
// member must exist. consumer.ts then calls each one under tsc --strict.
import { readFileSync } from 'node:fs';
import { RealtimeClient, RealtimeStore, Subscription } from '../../pkg/livestate.js';

const dts = readFileSync(new URL('../../pkg/livestate.d.ts', import.meta.url), 'utf8');
let failed = 0;
for (const cls of [RealtimeClient, Subscription, RealtimeStore]) {
  const actual = new Set(Object.getOwnPropertyNames(cls.prototype).filter((n) => n !== 'constructor' && !n.startsWith('_')));
  const body = dts.match(new RegExp(`export class ${cls.name}\\b[^{]*\\{([\\s\\S]*?)\\n\\}`))[1];
  const declared = new Set(
    [...body.matchAll(/^\s+(?:readonly\s+)?([A-Za-z_]\w*)\s*[(<:?]/gm)].map((m) => m[1]).filter((n) => n !== 'constructor'),
  );
  const missing = [...actual].filter((n) => !declared.has(n));
  const extra = [...declared].filter((n) => !actual.has(n));
  if (missing.length || extra.length) {
    console.log(`${cls.name} typings drifted: not declared: [${missing}], declared but absent: [${extra}]`);
    failed += 1;
  } else console.log(`${cls.name}: ${actual.size} members, each declared`);
}
console.log(`class typings: ${3 - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
