// The package's entry, declared by hand: the classes are JS (src/js/client.js, src/js/store.js)
// over the wasm's numeric API; their option, event and error types are generated from the Rust
// declarations into glue.d.ts (tsify) and re-exported here. tests/ts/api.mjs checks that every
// declared member exists on the classes and the other way round; tests/ts/consumer.ts calls them.
import type { InitInput, InitOutput, SyncInitInput } from './glue.js';
import type {
    ClientOptions, ClientStats, ConnectionStatus, ErrorCode, OutgoingEvent, RealtimeErrorEvent, StopReason, WebSocketMessage,
    StoreOptions, StoreDiff, ItemStatus,
} from './glue.js';
export type * from './glue.js';

/** What every method of this package throws: a normal `Error` with a machine-readable `code`. */
export class LivestateError extends Error {
    private constructor();
    readonly name: 'LivestateError';
    readonly code: ErrorCode;
}
/** True for a `LivestateError`, also one thrown by another copy of the package, where
 *  `instanceof` says no. */
export function isLivestateError(e: unknown): e is LivestateError;

/** Loads the wasm module (fetched beside this file unless `module_or_path` says where); call
 *  it once before creating a client. Resolves with the module's exports. */
export default function init(module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
/** `init` for an already compiled module or bytes, synchronously. */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * An app's events, declared once: feature → entity → action → the type of the event's `data`.
 * Give it to the client (`new RealtimeClient<AppEvents>(...)`) and subscriptions, callbacks and
 * `send` are checked against it, as socket.io's typed event maps are:
 *
 * ```ts
 * interface AppEvents {
 *   rbac: { role: { created: Role; updated: Role; deleted: { id: string } } };
 *   orders: { payment: { paid: { orderId: string; amount: number } } };
 * }
 * ```
 */
export type EventMap = object;
/** The map of a client declared without one: any name, and `data` as each callback types it. */
export type AnyEvents = { [feature: string]: { [entity: string]: { [action: string]: any } } };
/** The `data` of any event of `M[F][E]`. */
export type EntityData<M, F extends keyof M, E extends keyof M[F]> = M[F][E][keyof M[F][E]];
/** The `data` of any event of feature `F`. */
export type FeatureData<M, F extends keyof M> = { [E in keyof M[F]]: M[F][E][keyof M[F][E]] }[keyof M[F]];
/** An event to `send`, its names and `data` checked against the map. */
export type EventOf<M, F extends keyof M & string, E extends keyof M[F] & string, A extends keyof M[F][E] & string> =
    Omit<OutgoingEvent<M[F][E][A]>, 'feature' | 'entity' | 'action' | 'data'> & { feature: F; entity: E; action: A; data: M[F][E][A] };

/** One connection subscribed to a feature that keeps presence. */
export interface PresenceMember<I = unknown> {
    /** The connection's id, unique across the gateway's nodes. */
    connectionId: string;
    /** The user, from the token's `sub` (`anonymous` when the gateway runs without auth). */
    userId: string;
    /** The `presenceInfo` that connection's client sent, if any. */
    info?: I;
}

/** A change of a feature's members, given to `onPresence` listeners. */
export interface PresenceChange<I = unknown> {
    /** `sync`: the whole set was replaced (a snapshot from the gateway, or emptied because the
     *  feature was unsubscribed or refused); `join` and `leave`: one member came or went. */
    type: 'sync' | 'join' | 'leave';
    /** Who joined or left (undefined for `sync`). */
    member?: PresenceMember<I>;
    /** Every member after the change. */
    members: PresenceMember<I>[];
}

/**
 * One WebSocket to the gateway, carrying every feature's events. `M` declares the app's events
 * (see `EventMap`); without it every name is accepted and `data` is `any`.
 */
export class RealtimeClient<M extends EventMap = AnyEvents> {
    free(): void;
    /**
     * Connects, and keeps reconnecting until `disconnect()`. A `token` given here replaces the
     * one from the options. Does nothing if already connected or connecting.
     */
    connect(token?: string | null): void;
    /**
     * Closes the socket, cancels every timer and drops every subscription; no reconnect follows.
     */
    disconnect(): void;
    /**
     * Creates a disconnected client. Throws `LivestateError` (`invalidOptions`) naming the bad option.
     */
    constructor(options: ClientOptions);
    /**
     * Calls `callback(event)` for invalid frames, throwing subscribers, gateway errors and
     * token failures. Returns a function that removes it.
     */
    onError(callback: (event: RealtimeErrorEvent) => void): () => void;
    /**
     * Calls `callback(feature)` when events of `feature` were lost for good (the gateway
     * restarted, or the client was away longer than the gateway's history): state built from
     * that feature's events must be reloaded. Stores with a `reload` option do it themselves.
     * Returns a function that removes the listener.
     */
    onResync(callback: (feature: string) => void): () => void;
    /**
     * Calls `callback(change)` whenever the members of `feature` change: who is subscribed to
     * it, on any gateway node, for features whose registry entry keeps presence and users whose
     * token allows them to see it. The feature stays subscribed while the callback is
     * registered. After a reconnect the gateway's fresh snapshot replaces the set (`sync`), so
     * no member who left meanwhile stays listed. Returns a function that removes the callback.
     */
    onPresence<I = unknown>(feature: keyof M & string, callback: (change: PresenceChange<I>) => void): () => void;
    /**
     * The members of `feature` as the gateway last said (empty until its first snapshot, and
     * for features without presence). A copy: changing it changes nothing.
     */
    presence<I = unknown>(feature: keyof M & string): PresenceMember<I>[];
    /**
     * Calls `callback(status, reason)` on every status change. Returns a function that removes it.
     */
    onStatus(callback: (status: ConnectionStatus, reason?: StopReason) => void): () => void;
    /**
     * Publishes an event through the gateway (which must allow client publishing). Resolves
     * once written to the socket. Without an outbox, throws `LivestateError` `notConnected`
     * at once unless connected; with one, the message waits for the next connect and the
     * promise rejects with `outboxFull`, `outboxExpired` or `disconnected` if it cannot go.
     * Throws `invalidArgument` for a malformed event.
     */
    send<F extends keyof M & string, E extends keyof M[F] & string, A extends keyof M[F][E] & string>(event: EventOf<M, F, E, A>): Promise<void>;
    /**
     * Counters of frames, deliveries and failures.
     */
    stats(): ClientStats;
    /**
     * Calls `callback(data, message)` for every event of `entity` within `feature`.
     */
    subscribeToEntity<F extends keyof M & string, E extends keyof M[F] & string>(feature: F, entity: E, callback: (data: EntityData<M, F, E>, message: WebSocketMessage<EntityData<M, F, E>>) => void): Subscription;
    /**
     * Calls `callback(data, message)` for `feature.entity.action` events.
     */
    subscribeToEvent<F extends keyof M & string, E extends keyof M[F] & string, A extends keyof M[F][E] & string>(feature: F, entity: E, action: A, callback: (data: M[F][E][A], message: WebSocketMessage<M[F][E][A]>) => void): Subscription;
    /**
     * Calls `callback(data, message)` for every event of `feature`.
     */
    subscribeToFeature<F extends keyof M & string>(feature: F, callback: (data: FeatureData<M, F>, message: WebSocketMessage<FeatureData<M, F>>) => void): Subscription;
    /**
     * Failed reconnect attempts since the last successful connect.
     */
    readonly reconnectAttempts: number;
    /**
     * Why the client is `disconnected`, if it stopped for a reason.
     */
    readonly statusReason: StopReason | undefined;
    /**
     * `'connecting'` (since `connect()`, before the first connection), `'connected'`,
     * `'reconnecting'` (after a connection was lost) or `'disconnected'`.
     */
    readonly status: ConnectionStatus;
}

/**
 * A subscription made with `subscribeToFeature`, `subscribeToEntity` or `subscribeToEvent`.
 */
export class Subscription {
    private constructor();
    free(): void;
    /**
     * Stops delivery to this callback. Safe to call more than once.
     */
    unsubscribe(): void;
    /**
     * True until `unsubscribe()` or the client's `disconnect()`.
     */
    readonly active: boolean;
}

/** A keyed store of one entity's items, fed by the client's events. */
export class RealtimeStore<T extends object = Record<string, unknown>> {
    constructor(client: RealtimeClient<any>, feature: string, entity: string, options?: StoreOptions<T>);
    /** Visible items in the order they first appeared. Unchanged items keep their identity
     *  between calls, and the array itself is the same until something changes. */
    items(): T[];
    /** The item as the app should see it (confirmed state plus pending operations). */
    get(id: string | number): T | undefined;
    /** Number of visible items. */
    readonly size: number;
    /** Operations in flight, store-wide. */
    readonly pendingCount: number;
    /** True while `load(promise)` is waiting. */
    readonly loading: boolean;
    /** The last load failure, rejected operation or refused event, as text. */
    readonly error: string | undefined;
    /** Events refused because their data had no id. */
    readonly invalidEvents: number;
    status(id: string | number): ItemStatus;
    /** Replaces every confirmed item (a REST snapshot); pending operations stay on top. */
    replaceAll(items: T[]): void;
    /** `replaceAll` from an array or a Promise of one, with `loading`/`error` kept up to date. */
    load(items: T[] | Promise<T[]>): Promise<void>;
    /** Applies several events with one change notification. */
    applyBatch(events: { action: string; data: unknown }[]): void;
    /** Shows `patch` at once; resolves with the server's item, or rolls back and rejects. */
    performOptimisticUpdate(id: string | number, patch: Partial<T>, apiCall: () => Promise<T | void> | T | void): Promise<T | void>;
    /** Shows `item` at once (its id may be temporary: the server's item replaces it). */
    performOptimisticCreate(item: T, apiCall: () => Promise<T | void> | T | void): Promise<T | void>;
    /** Hides the item at once; it comes back if the call fails. */
    performOptimisticDelete(id: string | number, apiCall: () => Promise<unknown> | unknown): Promise<unknown>;
    /** Calls `callback(diffs)` once per batch (the list is empty when only status changed). */
    onChange(callback: (diffs: StoreDiff<T>[]) => void): () => void;
    /** Unsubscribes from the client and releases everything. */
    dispose(): void;
    free(): void;
}
