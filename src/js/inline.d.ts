// `livestate-client/inline`: the package's API with the wasm inlined (see inline.js).
import type { InitOutput } from './glue.js';
export * from './livestate.js';
/** Loads the inlined wasm module, once; call it before creating a client. */
export default function init(): Promise<InitOutput>;
