// Providers: HttpClient for the demo's REST API, and the realtime connection (livestate's
// Angular adapter loads the module and connects before the first component renders).
import { ApplicationConfig, provideBrowserGlobalErrorListeners } from '@angular/core';
import { provideHttpClient, withFetch } from '@angular/common/http';
import { provideRealtime } from 'livestate-client/angular';

export const appConfig: ApplicationConfig = {
  providers: [
    provideBrowserGlobalErrorListeners(),
    provideHttpClient(withFetch()),
    provideRealtime({ url: '/ws', maxReconnectAttempts: Infinity, backoff: { min: 300, max: 3000 }, presenceInfo: { name: 'Angular example' } }),
  ],
};
