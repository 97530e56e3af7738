// Providers: HttpClient for the demo's REST API, and the realtime connection, which loads the
// wasm module and connects before the first component renders.
import { ApplicationConfig, inject, provideAppInitializer, provideBrowserGlobalErrorListeners } from '@angular/core';
import { provideHttpClient, withFetch } from '@angular/common/http';
import { RealtimeService } from './livestate/realtime.service';

export const appConfig: ApplicationConfig = {
  providers: [
    provideBrowserGlobalErrorListeners(),
    provideHttpClient(withFetch()),
    provideAppInitializer(() => inject(RealtimeService).start({ url: '/ws', maxReconnectAttempts: Infinity, backoff: { min: 300, max: 3000 } })),
  ],
};
