// Server-side rendering of a page that uses the adapter (provideRealtime, injectRealtime,
// injectRealtimeStore, an @ngrx/signals store with withRealtimeEntities), in Node with Angular's
// platform-server (JIT). Prints what a server would send and what the adapter did: no socket
// may open and no wasm may load on the server, and the page must still come with its data.
import '@angular/compiler';
import { Component } from '@angular/core';
import { bootstrapApplication } from '@angular/platform-browser';
import { provideServerRendering, renderApplication } from '@angular/platform-server';
import { signalStore } from '@ngrx/signals';
import { withEntities } from '@ngrx/signals/entities';
import { injectRealtime, injectRealtimeStore, provideRealtime } from 'livestate-client/angular';
import { withRealtimeEntities } from 'livestate-client/ngrx-signals';

let sockets = 0;
globalThis.WebSocket = class {
  constructor() {
    sockets += 1;
    throw new Error('a WebSocket was opened on the server');
  }
};
let wasm = 0;
for (const name of ['instantiate', 'compile', 'instantiateStreaming', 'compileStreaming']) {
  const real = WebAssembly[name];
  WebAssembly[name] = (...args) => {
    wasm += 1;
    return real.apply(WebAssembly, args);
  };
}

const later = (value) => new Promise((resolve) => setTimeout(() => resolve(value), 20));
const Users = signalStore(withEntities(), withRealtimeEntities('users', 'user'));

class App {
  realtime = injectRealtime();
  roles = injectRealtimeStore('rbac', 'role');
  users = new Users();
  constructor() {
    void this.roles.load(later([{ id: 'role-1', name: 'Admins' }]));
    void this.users.loadEntities(later([{ id: 'user-1', name: 'Ada' }]));
  }
}
Component({
  selector: 'app-root',
  template: `<p id="status">{{ realtime.status() }}</p>
    <ul>@for (role of roles.items(); track role.id) { <li>{{ role.name }}</li> }</ul>
    <ul>@for (user of users.entities(); track user.id) { <li>{{ user.name }}</li> }</ul>`,
})(App);

const html = await renderApplication(
  (context) => bootstrapApplication(App, { providers: [provideServerRendering(), provideRealtime({ url: 'ws://127.0.0.1:9/ws' })] }, context),
  { document: '<html><head></head><body><app-root></app-root></body></html>', url: '/' },
);
console.log(JSON.stringify({ html, sockets, wasm }));
