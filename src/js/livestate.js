// The package's entry: `init` loads the wasm (through wasm-bindgen's glue, ./glue.js in the
// package) and hands its exports to the classes, which are plain JS over its numeric API.
import initWasm, { initSync as initWasmSync } from './glue.js';
import { install } from './client.js';

export { RealtimeClient, Subscription } from './client.js';
export { RealtimeStore } from './store.js';
export { LivestateError, isLivestateError } from './boundary.js';

/** Loads the wasm module; call it once before creating a client. */
export default async function init(moduleOrPath) {
  const exports = await initWasm(moduleOrPath);
  install(exports);
  return exports;
}

/** `init` for an already compiled module or bytes, synchronously. */
export function initSync(module) {
  const exports = initWasmSync(module);
  install(exports);
  return exports;
}
