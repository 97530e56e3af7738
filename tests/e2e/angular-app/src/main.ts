// A fresh Angular app as a team would write it after reading the package's README: the
// connection from provideRealtime, no assets entry, no prebundle setting.
import { bootstrapApplication } from '@angular/platform-browser';
import { provideRealtime } from 'livestate-client/angular';
import { App } from './app';

bootstrapApplication(App, { providers: [provideRealtime({ url: '/ws', presenceInfo: { name: 'angular' } })] }).catch((e) => {
  document.title = 'error: ' + (e instanceof Error ? e.message : String(e));
});
