//! The TypeScript declarations of `RealtimeStore<T>` and its option and event types, written by
//! hand for their generics (tests/ts/store-api.mjs checks them against the generated class).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const STORE_TS: &str = r#"
/** Options for `new RealtimeStore<T>(client, feature, entity, options)`. */
export interface StoreOptions<T> {
    /** Field holding each item's id (a string or a number). Default `"id"`. */
    keyField?: keyof T & string;
    /** Field holding a version number or an updatedAt timestamp. When set, events and API
     *  results that are not newer than what the store holds are ignored. */
    versionField?: keyof T & string;
    /** After a `created` event was applied. */
    onCreated?: (item: T) => void;
    /** After an `updated` event was applied. */
    onUpdated?: (item: T) => void;
    /** After a `deleted` event was applied. */
    onDeleted?: (id: string, data: unknown) => void;
    /** Any other action on this entity (`assigned`, `stock_changed`, ...); the store does not change. */
    onAction?: (action: string, data: unknown, message: WebSocketMessage<unknown>) => void;
    /** A server event changed fields that a pending optimistic update also changes. The
     *  pending patch stays on top; when it succeeds, the server's result wins. */
    onConflict?: (conflict: StoreConflict<T>) => void;
    /** An optimistic operation failed and was rolled back (its promise rejects too). */
    onRejected?: (rejection: StoreRejection) => void;
    /** Fetches every item again (a REST call, say). Called when events of this feature were
     *  lost for good (the gateway restarted, or the client was away too long); the result
     *  replaces the confirmed items, with pending operations kept on top. Without it, the
     *  store reports the loss in `error`. */
    reload?: () => Promise<T[]>;
}

/** One change to the visible items; `onChange` gets a list of them per batch. */
export type StoreDiff<T> =
    | { type: "insert"; id: string; item: T }
    | { type: "update"; id: string; item: T }
    | { type: "remove"; id: string }
    | { type: "replace" };

/** A server event and a pending operation changed the same fields of one item. */
export interface StoreConflict<T> {
    id: string;
    fields: string[];
    /** The fields before the server event. */
    base: Partial<T>;
    /** The pending patch's values (still shown). */
    mine: Partial<T>;
    /** The server event's values. */
    theirs: Partial<T>;
}

/** An optimistic operation that failed. */
export interface StoreRejection {
    id: string;
    message: string;
}

/** Pending and error status of one item, kept beside it (never inside `T`). */
export interface ItemStatus {
    /** Optimistic operations in flight on this item. */
    pending: number;
    /** The last failure on this item, cleared by the next success. */
    error?: string;
}

/** A keyed store of one entity's items, fed by the client's events. */
export class RealtimeStore<T extends object = any> {
    constructor(client: RealtimeClient, feature: string, entity: string, options?: StoreOptions<T>);
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
"#;
