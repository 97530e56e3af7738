// A RealtimeStore as Angular signals: `injectRealtimeStore()` for a component or service, and
// `RealtimeStoreService<T>`, the seed's BaseRealtimeStateManager rebuilt on it.
import { DestroyRef, Signal, computed, inject, signal } from '@angular/core';
import { RealtimeStore, type ItemStatus, type StoreConflict, type StoreOptions } from 'livestate-client';
import { RealtimeService } from './realtime.service';

/** A store's state as signals. Every signal changes at most once per batch of events. */
export interface RealtimeStoreSignals<T extends object> {
  /** Visible items (confirmed plus optimistic), in the order they first appeared. */
  readonly items: Signal<T[]>;
  readonly loading: Signal<boolean>;
  readonly error: Signal<string | undefined>;
  /** Optimistic operations in flight, store-wide. */
  readonly pendingCount: Signal<number>;
  /** Pending count and last error of one item; reactive when read in a template or computed. */
  status(id: string | number): ItemStatus;
  /** The store itself, for optimistic operations and everything else. */
  readonly store: RealtimeStore<T>;
}

/** Creates a store for `feature.entity` on the app's connection; it is disposed with the
 *  injector (component or service) that created it. Call it in an injection context. */
export function injectRealtimeStore<T extends object>(feature: string, entity: string, options: StoreOptions<T> = {}): RealtimeStoreSignals<T> {
  const store = new RealtimeStore<T>(inject(RealtimeService).connection, feature, entity, options);
  // One counter bumped per change notification; everything else is computed from it, and
  // `items()` returns the same array until something changed, so templates re-render only then.
  const tick = signal(0);
  const stop = store.onChange(() => tick.update((n) => n + 1));
  inject(DestroyRef).onDestroy(() => {
    stop();
    store.dispose();
  });
  const read = <R>(f: () => R) => computed(() => (tick(), f()));
  return {
    items: read(() => store.items()),
    loading: read(() => store.loading),
    error: read(() => store.error),
    pendingCount: read(() => store.pendingCount),
    status: (id) => (tick(), store.status(id)),
    store,
  };
}

/** Base class for per-feature state managers (the seed's BaseRealtimeStateManager): signals
 *  for the view, optimistic operations that roll back on failure without losing concurrent
 *  server updates, and `handleItem*` hooks to override for feature-specific behaviour. */
export abstract class RealtimeStoreService<T extends { id: string | number }> {
  private readonly state: RealtimeStoreSignals<T>;
  readonly items: Signal<T[]>;
  readonly loading: Signal<boolean>;
  readonly error: Signal<string | undefined>;
  readonly pendingCount: Signal<number>;
  /** The last conflict per item: a server update touched fields you were editing. */
  readonly conflicts = signal<ReadonlyMap<string, StoreConflict<T>>>(new Map());

  protected constructor(feature: string, entity: string, options: Omit<StoreOptions<T>, 'onCreated' | 'onUpdated' | 'onDeleted' | 'onConflict' | 'reload'> = {}) {
    this.state = injectRealtimeStore<T>(feature, entity, {
      ...options,
      onCreated: (item) => this.handleItemCreated(item),
      onUpdated: (item) => this.handleItemUpdated(item),
      onDeleted: (id) => this.handleItemDeleted(id),
      onConflict: (c) => this.conflicts.update((m) => new Map(m).set(c.id, c)),
      reload: () => this.fetchAll(),
    });
    ({ items: this.items, loading: this.loading, error: this.error, pendingCount: this.pendingCount } = this.state);
  }

  /** Every item from the backend: the first load, and the reload after events were lost. */
  protected abstract fetchAll(): Promise<T[]>;

  protected handleItemCreated(_item: T): void {}
  protected handleItemUpdated(_item: T): void {}
  protected handleItemDeleted(_id: string): void {}

  /** Loads (or reloads) every item; `loading` and `error` follow. */
  load(): Promise<void> {
    return this.state.store.load(this.fetchAll());
  }

  status(id: string | number): ItemStatus {
    return this.state.status(id);
  }

  get(id: string | number): T | undefined {
    return (this.items(), this.state.store.get(id));
  }

  /** Shows `patch` at once; `api` saves it. On failure the patch is rolled back (concurrent
   *  server updates stay) and the promise rejects. */
  update(id: T['id'], patch: Partial<T>, api: () => Promise<T>): Promise<T | void> {
    this.conflicts.update((m) => {
      const next = new Map(m);
      next.delete(String(id));
      return next;
    });
    return this.state.store.performOptimisticUpdate(id, patch, api);
  }

  create(item: T, api: () => Promise<T>): Promise<T | void> {
    return this.state.store.performOptimisticCreate(item, api);
  }

  remove(id: T['id'], api: () => Promise<unknown>): Promise<unknown> {
    return this.state.store.performOptimisticDelete(id, api);
  }
}
