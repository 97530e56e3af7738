// Types of livestate-client/angular (src/js/angular.js).
import type { EnvironmentProviders, Signal } from '@angular/core';
import type { Observable } from 'rxjs';
import type {
    AnyEvents, ClientOptions, ConnectionStatus, EntityData, EventMap, FeatureData, ItemStatus, RealtimeClient,
    PresenceMember, RealtimeErrorEvent, RealtimeStore, StoreConflict, StoreDiff, StoreOptions, WebSocketMessage,
} from './livestate.js';

/** One event as the RxJS bridge emits it. */
export interface RealtimeEvent<T = unknown> {
    data: T;
    message: WebSocketMessage<T>;
}

/**
 * The app's one connection, provided by `provideRealtime` (inject it with `inject(Realtime)`,
 * or `injectRealtime<AppEvents>()` for typed events).
 */
export declare class Realtime<M extends EventMap = AnyEvents> {
    private constructor();
    /** False during server-side rendering: nothing connects there and `on$` never emits. */
    readonly browser: boolean;
    /** `connecting`, `connected`, `reconnecting` or `disconnected`. */
    readonly status: Signal<ConnectionStatus>;
    /** Failed attempts since the connection was lost. */
    readonly reconnectAttempts: Signal<number>;
    /** The last error the client reported (invalid frame, gateway error, unreachable, ...). */
    readonly lastError: Signal<RealtimeErrorEvent | undefined>;
    /** The client, for `send`, `stats` and anything else. Throws during server-side rendering. */
    readonly connection: RealtimeClient<M>;
    /**
     * Events of a feature, of one of its entities, or of one action, as a cold Observable: each
     * subscriber holds one subscription on the shared socket, released when it unsubscribes.
     * During server-side rendering it never emits.
     */
    on$<F extends keyof M & string>(feature: F): Observable<RealtimeEvent<FeatureData<M, F>>>;
    on$<F extends keyof M & string, E extends keyof M[F] & string>(feature: F, entity: E): Observable<RealtimeEvent<EntityData<M, F, E>>>;
    on$<F extends keyof M & string, E extends keyof M[F] & string, A extends keyof M[F][E] & string>(feature: F, entity: E, action: A): Observable<RealtimeEvent<M[F][E][A]>>;
}

/**
 * Providers for the app's connection (`bootstrapApplication(App, { providers: [provideRealtime({ url: '/ws' })] })`):
 * in the browser the module loads and the client connects before the first component renders;
 * during server-side rendering nothing loads or connects. `options` may be a function, called
 * in an injection context (to `inject` a token service, say).
 */
export function provideRealtime(options: ClientOptions | (() => ClientOptions)): EnvironmentProviders;

/** `inject(Realtime)`, typed with the app's event map. Call it in an injection context. */
export function injectRealtime<M extends EventMap = AnyEvents>(): Realtime<M>;

/**
 * Who is subscribed to `feature` (a feature whose registry entry keeps presence), as a signal
 * that follows every join and leave and is replaced by the gateway's snapshot after a
 * reconnect. The feature stays subscribed until the injector (component, service) is
 * destroyed. Empty during server-side rendering. `I` is the type of the members' `info`
 * (the `presenceInfo` option of each client). Call it in an injection context.
 */
export function injectPresence<I = unknown>(feature: string): Signal<PresenceMember<I>[]>;

/** A store's state as signals, and its operations. Every signal changes at most once per batch of events. */
export interface RealtimeStoreSignals<T extends object> {
    /** Visible items (confirmed plus optimistic), in the order they first appeared. */
    readonly items: Signal<T[]>;
    readonly loading: Signal<boolean>;
    readonly error: Signal<string | undefined>;
    /** Optimistic operations in flight, store-wide. */
    readonly pendingCount: Signal<number>;
    /** Pending count and last error of one item; reactive when read in a template or computed. */
    status(id: string | number): ItemStatus;
    /** One item; reactive when read in a template or computed. */
    get(id: string | number): T | undefined;
    /** Replaces every item with what `items` resolves to; `loading` and `error` follow. */
    load(items: T[] | Promise<T[]>): Promise<void>;
    /** Shows `patch` at once; `api` saves it. On failure the patch is rolled back (concurrent
     *  server updates stay) and the promise rejects. */
    update(id: string | number, patch: Partial<T>, api: () => Promise<T | void> | T | void): Promise<T | void>;
    /** Shows `item` at once; removed again if `api` fails. */
    create(item: T, api: () => Promise<T | void> | T | void): Promise<T | void>;
    /** Hides the item at once; shown again if `api` fails. */
    remove(id: string | number, api: () => Promise<unknown> | unknown): Promise<unknown>;
    /** Calls `callback` with the changes of each batch. Returns a function that removes it. */
    onChange(callback: (diffs: StoreDiff<T>[]) => void): () => void;
    /** The store itself; `undefined` during server-side rendering. */
    readonly store: RealtimeStore<T> | undefined;
}

/**
 * A store of `feature.entity` on the app's connection, as signals; disposed with the injector
 * (component or service) that created it. Call it in an injection context. During server-side
 * rendering, `load` fills `items` and nothing subscribes.
 */
export function injectRealtimeStore<T extends object = Record<string, unknown>>(feature: string, entity: string, options?: StoreOptions<T>): RealtimeStoreSignals<T>;

/**
 * Base class for per-feature state managers (the seed's BaseRealtimeStateManager): signals for
 * the view, optimistic operations that roll back on failure without losing concurrent server
 * updates, and `handleItem*` hooks to override. Extend it in an `@Injectable` service.
 */
export declare abstract class RealtimeStoreService<T extends { id: string | number }> {
    readonly items: Signal<T[]>;
    readonly loading: Signal<boolean>;
    readonly error: Signal<string | undefined>;
    readonly pendingCount: Signal<number>;
    /** The last conflict per item: a server update touched fields being edited. */
    readonly conflicts: Signal<ReadonlyMap<string, StoreConflict<T>>>;
    protected constructor(feature: string, entity: string, options?: Omit<StoreOptions<T>, 'onCreated' | 'onUpdated' | 'onDeleted' | 'onConflict' | 'reload'>);
    /** Every item from the backend: the first load, and the reload after events were lost. */
    protected abstract fetchAll(): Promise<T[]>;
    protected handleItemCreated(item: T): void;
    protected handleItemUpdated(item: T): void;
    protected handleItemDeleted(id: string): void;
    /** Loads (or reloads) every item; `loading` and `error` follow. */
    load(): Promise<void>;
    status(id: string | number): ItemStatus;
    get(id: string | number): T | undefined;
    /** Shows `patch` at once; `api` saves it. On failure the patch is rolled back (concurrent
     *  server updates stay) and the promise rejects. */
    update(id: T['id'], patch: Partial<T>, api: () => Promise<T>): Promise<T | void>;
    create(item: T, api: () => Promise<T>): Promise<T | void>;
    remove(id: T['id'], api: () => Promise<unknown>): Promise<unknown>;
}
