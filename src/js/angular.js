// livestate-client/angular: the package's Angular adapter. `provideRealtime` loads the module
// and connects as the app starts (in the browser only: on the server nothing loads or
// connects), `Realtime` holds the connection's status as signals and bridges events to RxJS,
// `injectRealtimeStore` gives a store as signals, and `RealtimeStoreService` is the seed's
// BaseRealtimeStateManager on top of it. Plain functions and undecorated classes, so Angular's
// builder takes this file as it is (no partial compilation, no ng-packagr).
import { DestroyRef, PLATFORM_ID, PendingTasks, computed, inject, makeEnvironmentProviders, provideAppInitializer, signal } from '@angular/core';
import { isPlatformBrowser } from '@angular/common';
import { NEVER, Observable } from 'rxjs';
// The inline entry: Angular's builder copies no .wasm beside the bundle, and `ng serve`
// pre-bundles packages, so the module travels inside the JS (hashed with it).
import init, { RealtimeClient, RealtimeStore } from './inline.js';

/** The app's one connection, provided by `provideRealtime` and injected with `inject(Realtime)`. */
export class Realtime {
  constructor(browser) {
    /** False during server-side rendering: nothing connects there, `on$` never emits. */
    this.browser = browser;
    this.status = signal('disconnected');
    this.reconnectAttempts = signal(0);
    this.lastError = signal(undefined);
    this._client = undefined;
  }

  /** Loads the module, creates the client and connects; once. */
  async _start(options) {
    if (this._client || !this.browser) return;
    await init();
    const client = new RealtimeClient(options);
    const status = () => {
      this.status.set(client.status);
      this.reconnectAttempts.set(client.reconnectAttempts);
    };
    client.onStatus(status);
    client.onError((e) => this.lastError.set(e));
    this._client = client;
    client.connect();
    status();
  }

  _stop() {
    const client = this._client;
    this._client = undefined;
    if (client) {
      client.disconnect();
      client.free();
    }
  }

  get connection() {
    if (this._client) return this._client;
    throw new Error(this.browser
      ? 'livestate: the connection is not ready; add provideRealtime(...) to the app\'s providers'
      : 'livestate: there is no connection during server-side rendering');
  }

  on$(feature, entity, action) {
    if (!this.browser) return NEVER;
    return new Observable((subscriber) => {
      const next = (data, message) => subscriber.next({ data, message });
      const client = this.connection;
      const subscription = entity === undefined
        ? client.subscribeToFeature(feature, next)
        : action === undefined
          ? client.subscribeToEntity(feature, entity, next)
          : client.subscribeToEvent(feature, entity, action, next);
      return () => subscription.unsubscribe();
    });
  }
}

/** Providers for the app's connection: loads the module and connects before the first
 *  component renders, in the browser; on the server it only provides an idle `Realtime`. */
export function provideRealtime(options) {
  return makeEnvironmentProviders([
    {
      provide: Realtime,
      useFactory: () => {
        const realtime = new Realtime(isPlatformBrowser(inject(PLATFORM_ID)));
        inject(DestroyRef).onDestroy(() => realtime._stop());
        return realtime;
      },
    },
    provideAppInitializer(() => {
      const realtime = inject(Realtime);
      if (!realtime.browser) return;
      return realtime._start(typeof options === 'function' ? options() : options);
    }),
  ]);
}

/** `inject(Realtime)`, typed with the app's event map. */
export function injectRealtime() {
  return inject(Realtime);
}

/** A feature's members as a signal, kept subscribed until the injector is destroyed; always
 *  empty during server-side rendering. */
export function injectPresence(feature) {
  const realtime = inject(Realtime);
  const members = signal([]);
  if (realtime.browser) {
    const client = realtime.connection;
    members.set(client.presence(feature));
    inject(DestroyRef).onDestroy(client.onPresence(feature, (change) => members.set(change.members)));
  }
  return members.asReadonly();
}

export function injectRealtimeStore(feature, entity, options = {}) {
  const realtime = inject(Realtime);
  const destroyRef = inject(DestroyRef);
  return realtime.browser ? browserStore(realtime, destroyRef, feature, entity, options) : serverStore(inject(PendingTasks), options);
}

function browserStore(realtime, destroyRef, feature, entity, options) {
  const store = new RealtimeStore(realtime.connection, feature, entity, options);
  // One counter bumped per change notification; every signal is computed from it, and
  // `items()` returns the same array until something changed, so templates re-render only then.
  const tick = signal(0);
  const stop = store.onChange(() => tick.update((n) => n + 1));
  destroyRef.onDestroy(() => {
    stop();
    store.dispose();
  });
  const read = (f) => computed(() => (tick(), f()));
  return {
    items: read(() => store.items()),
    loading: read(() => store.loading),
    error: read(() => store.error),
    pendingCount: read(() => store.pendingCount),
    status: (id) => (tick(), store.status(id)),
    get: (id) => (tick(), store.get(id)),
    load: (items) => store.load(items),
    update: (id, patch, api) => store.performOptimisticUpdate(id, patch, api),
    create: (item, api) => store.performOptimisticCreate(item, api),
    remove: (id, api) => store.performOptimisticDelete(id, api),
    onChange: (callback) => store.onChange(callback),
    store,
  };
}

/** The same shape during server-side rendering: `load` fills `items` (and the render waits for
 *  it, as for an HttpClient request, so the page comes with its data); the operations only call
 *  the API; no module, no socket, no store. */
function serverStore(pendingTasks, options) {
  const key = options.keyField ?? 'id';
  const items = signal([]);
  const loading = signal(false);
  const error = signal(undefined);
  const listeners = new Set();
  const idle = { pending: 0 };
  return {
    items: items.asReadonly(),
    loading: loading.asReadonly(),
    error: error.asReadonly(),
    pendingCount: signal(0).asReadonly(),
    status: () => idle,
    get: (id) => items().find((item) => String(item[key]) === String(id)),
    async load(list) {
      const done = pendingTasks.add();
      loading.set(true);
      try {
        items.set([...(await list)]);
        error.set(undefined);
        for (const f of listeners) f([{ type: 'replace' }]);
      } catch (e) {
        error.set(e instanceof Error ? e.message : String(e));
      } finally {
        loading.set(false);
        done();
      }
    },
    update: async (_id, _patch, api) => api(),
    create: async (_item, api) => api(),
    remove: async (_id, api) => api(),
    onChange(callback) {
      listeners.add(callback);
      return () => listeners.delete(callback);
    },
    store: undefined,
  };
}

/** Base class for per-feature state managers (the seed's BaseRealtimeStateManager): signals for
 *  the view, optimistic operations that roll back on failure without losing concurrent server
 *  updates, and `handleItem*` hooks to override. Construct it in an injection context. */
export class RealtimeStoreService {
  constructor(feature, entity, options = {}) {
    this.conflicts = signal(new Map());
    this._state = injectRealtimeStore(feature, entity, {
      ...options,
      onCreated: (item) => this.handleItemCreated(item),
      onUpdated: (item) => this.handleItemUpdated(item),
      onDeleted: (id) => this.handleItemDeleted(id),
      onConflict: (c) => this.conflicts.update((m) => new Map(m).set(c.id, c)),
      reload: () => this.fetchAll(),
    });
    this.items = this._state.items;
    this.loading = this._state.loading;
    this.error = this._state.error;
    this.pendingCount = this._state.pendingCount;
  }

  handleItemCreated() {}
  handleItemUpdated() {}
  handleItemDeleted() {}

  load() {
    return this._state.load(this.fetchAll());
  }

  status(id) {
    return this._state.status(id);
  }

  get(id) {
    return this._state.get(id);
  }

  update(id, patch, api) {
    this.conflicts.update((m) => {
      const next = new Map(m);
      next.delete(String(id));
      return next;
    });
    return this._state.update(id, patch, api);
  }

  create(item, api) {
    return this._state.create(item, api);
  }

  remove(id, api) {
    return this._state.remove(id, api);
  }
}
