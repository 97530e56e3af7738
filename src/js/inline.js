// The package's entry with the wasm inside (`livestate-client/inline`): the same exports, and an
// `init` that needs no .wasm file beside the bundle. For builds that do not copy one (Angular's
// builder) and dev servers that pre-bundle packages; the bytes travel with the JS, so a cache
// can never pair this JS with another build's wasm. Costs about a third more bytes on the wire
// than the .wasm file (base64). build-pkg.sh writes the bytes in place of the marker below.
import initFromFile from './livestate.js';

export * from './livestate.js';

// WASM

let ready;

/** Loads the inlined wasm module, once; call it before creating a client. */
export default function init() {
  if (!ready) {
    const text = atob(WASM);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    ready = initFromFile({ module_or_path: bytes });
  }
  return ready;
}
