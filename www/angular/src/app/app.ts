// The example's shell: connection status, who is online, the demo switches, the role and user
// lists, and a feed of every feature's events through the RxJS bridge.
import { ChangeDetectionStrategy, Component, computed, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { map, merge, scan } from 'rxjs';
import { injectPresence, injectRealtime } from 'livestate-client/angular';
import type { AppEvents } from './state/events';
import { DemoApi } from './state/demo-api.service';
import { RoleListComponent } from './role-list.component';
import { UserListComponent } from './user-list.component';

@Component({
  selector: 'app-root',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [RoleListComponent, UserListComponent],
  styleUrl: './app.css',
  template: `
    <header>
      <h1>livestate · Angular</h1>
      <span id="status" class="status" [attr.data-status]="realtime.status()">{{ realtime.status() }}</span>
      @if ((realtime.status() === 'connecting' || realtime.status() === 'reconnecting') && realtime.reconnectAttempts() > 0) {
        <span class="muted">attempt {{ realtime.reconnectAttempts() }}</span>
      }
      <span id="online" class="muted">online: {{ online() }}</span>
      <span class="spacer"></span>
      <label><input id="fail-next" type="checkbox" [checked]="api.failNext()" (change)="api.failNext.set($any($event.target).checked)" /> fail the next request</label>
      <label><input id="slow" type="checkbox" [checked]="api.slow()" (change)="api.slow.set($any($event.target).checked)" /> slow API</label>
      <span class="muted">payments seen: {{ payments() }}</span>
      <a href="/">plain demo →</a>
    </header>
    <main>
      <section class="panel"><app-role-list /></section>
      <section class="panel"><app-user-list /></section>
      <section class="panel">
        <h2>Events, all features</h2>
        <ol class="log">
          @for (line of feed(); track $index) { <li>{{ line }}</li> }
        </ol>
      </section>
    </main>
  `,
})
export class App {
  protected readonly realtime = injectRealtime<AppEvents>();
  protected readonly api = inject(DemoApi);
  /** Who has the demo open (its pages send their name as presence info). */
  private readonly members = injectPresence<{ name?: string }>('users');
  protected readonly online = computed(() => this.members().map((m) => m.info?.name ?? m.userId).sort().join(', '));
  protected readonly feed = toSignal(
    merge(...(['rbac', 'users', 'products', 'orders'] as const).map((feature) => this.realtime.on$(feature))).pipe(
      map(({ message }) => `${message.meta.timestamp.slice(11, 19)} ${message.feature}.${message.entity}.${message.action}`),
      scan((lines, line) => [line, ...lines].slice(0, 12), [] as string[]),
    ),
    { initialValue: [] },
  );
  protected readonly payments = toSignal(
    this.realtime.on$('orders', 'payment', 'paid').pipe(scan((n) => n + 1, 0)),
    { initialValue: 0 },
  );
}
