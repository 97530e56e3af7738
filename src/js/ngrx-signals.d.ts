// Types of livestate-client/ngrx-signals (src/js/ngrx-signals.js).
import type { Signal } from '@angular/core';
import type { SignalStoreFeature } from '@ngrx/signals';
import type { EntityState } from '@ngrx/signals/entities';
import type { ItemStatus, StoreOptions } from './livestate.js';

/** What `withRealtimeEntities` adds to a store. */
export type RealtimeEntitiesProps = {
    /** True while `loadEntities` (or a reload after lost events) runs. */
    realtimeLoading: Signal<boolean>;
    /** The last load error, or the loss of events a `reload` option could not repair. */
    realtimeError: Signal<string | undefined>;
    /** Optimistic operations in flight. */
    realtimePending: Signal<number>;
};

export type RealtimeEntitiesMethods<T> = {
    /** Pending count and last error of one entity. */
    realtimeStatus(id: string | number): ItemStatus;
    /** Replaces every entity with what `items` resolves to (the first load, say). */
    loadEntities(items: T[] | Promise<T[]>): Promise<void>;
    /** Shows `patch` at once; `api` saves it. On failure the patch is rolled back (concurrent
     *  server updates stay) and the promise rejects. */
    updateOptimistic(id: string | number, patch: Partial<T>, api: () => Promise<T | void> | T | void): Promise<T | void>;
    /** Shows `item` at once; removed again if `api` fails. */
    createOptimistic(item: T, api: () => Promise<T | void> | T | void): Promise<T | void>;
    /** Removes the entity at once; back if `api` fails. */
    deleteOptimistic(id: string | number, api: () => Promise<unknown> | unknown): Promise<unknown>;
};

/**
 * Live updates for a store that keeps its items with `withEntities<T>()`: `created`, `updated`
 * and `deleted` events of `feature.entity` change the entities (older versions ignored when
 * `versionField` is set), and optimistic operations revert on failure without losing a
 * concurrent server update. Needs `provideRealtime` (livestate-client/angular) in the app.
 * `options` may be a function, called in the store's injection context (to `inject` what
 * `reload` needs).
 *
 * ```ts
 * export const RolesStore = signalStore(
 *   { providedIn: 'root' },
 *   withEntities<Role>(),
 *   withRealtimeEntities<Role>('rbac', 'role', { versionField: 'version' }),
 * );
 * ```
 */
export function withRealtimeEntities<T extends object>(feature: string, entity: string, options?: StoreOptions<T> | (() => StoreOptions<T>)): SignalStoreFeature<
    { state: EntityState<T>; props: {}; methods: {} },
    { state: {}; props: RealtimeEntitiesProps; methods: RealtimeEntitiesMethods<T> }
>;
