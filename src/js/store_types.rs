//! The TypeScript declarations of `RealtimeStore<T>`'s option and event types, written by hand
//! for their generics. The class itself is declared in src/js/livestate.d.ts.

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

"#;
