// The app's one realtime connection: loads the wasm module, connects, exposes the connection
// status as signals and any feature, entity or action as an RxJS Observable.
import { Injectable, OnDestroy, signal } from '@angular/core';
import { Observable } from 'rxjs';
// The inline entry carries its wasm in the JS: Angular's builder needs no `assets` entry for a
// .wasm file, `ng serve` has none to lose when it pre-bundles the package, and the bytes are
// hashed with the bundle, so a cache cannot pair new JS with an old wasm.
import init from 'livestate-client/inline';
import { RealtimeClient, type ClientOptions, type ConnectionStatus, type WebSocketMessage } from 'livestate-client';

/** One event as the Observable bridge emits it. */
export interface RealtimeEvent<T = unknown> {
  data: T;
  message: WebSocketMessage<T>;
}

@Injectable({ providedIn: 'root' })
export class RealtimeService implements OnDestroy {
  private client?: RealtimeClient;
  /** `connecting`, `connected`, `reconnecting` or `disconnected`. */
  readonly status = signal<ConnectionStatus>('disconnected');
  /** Failed attempts since the connection was lost. */
  readonly reconnectAttempts = signal(0);

  /** Loads the module and connects. Call it once, from `provideAppInitializer`, so every
   *  component finds the connection ready. */
  async start(options: ClientOptions): Promise<void> {
    if (this.client) return;
    await init();
    const client = new RealtimeClient(options);
    client.onStatus((status) => {
      this.status.set(status);
      this.reconnectAttempts.set(client.reconnectAttempts);
    });
    this.client = client;
    client.connect();
  }

  /** The client, for stores and anything the bridge does not cover. */
  get connection(): RealtimeClient {
    if (!this.client) throw new Error('RealtimeService.start() has not finished: call it from provideAppInitializer');
    return this.client;
  }

  /** Events of a feature, of one of its entities, or of one action, as a cold Observable: each
   *  subscriber holds one subscription on the shared socket, released when it unsubscribes. */
  on$<T = unknown>(feature: string, entity?: string, action?: string): Observable<RealtimeEvent<T>> {
    return new Observable<RealtimeEvent<T>>((subscriber) => {
      const next = (data: T, message: WebSocketMessage<T>) => subscriber.next({ data, message });
      const client = this.connection;
      const subscription = entity === undefined
        ? client.subscribeToFeature(feature, next)
        : action === undefined
          ? client.subscribeToEntity(feature, entity, next)
          : client.subscribeToEvent(feature, entity, action, next);
      return () => subscription.unsubscribe();
    });
  }

  ngOnDestroy(): void {
    this.client?.disconnect();
    this.client?.free();
    this.client = undefined;
  }
}
