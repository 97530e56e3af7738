// The page: the connection's status, roles from injectRealtimeStore, users from an @ngrx/signals
// store, payments counted through the RxJS bridge, and who is online (presence).
import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { scan } from 'rxjs';
import { injectPresence, injectRealtime, injectRealtimeStore } from 'livestate-client/angular';
import type { AppEvents, Role } from './events';
import { UsersStore } from './users.store';

@Component({
  selector: 'app-root',
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <p id="status" [attr.data-status]="realtime.status()">{{ realtime.status() }}</p>
    <p id="paid">{{ paid() }}</p>
    <ul id="roles">@for (role of roles.items(); track role.id) { <li [attr.data-id]="role.id">{{ role.name }}</li> }</ul>
    <ul id="users">@for (user of users.entities(); track user.id) { <li [attr.data-id]="user.id">{{ user.name }}</li> }</ul>
    <ul id="online">@for (member of online(); track member.connectionId) { <li>{{ member.info?.name }}</li> }</ul>
  `,
})
export class App {
  protected readonly realtime = injectRealtime<AppEvents>();
  protected readonly roles = injectRealtimeStore<Role>('rbac', 'role', { versionField: 'version' });
  protected readonly users = inject(UsersStore);
  /** Who else has the app open (the demo gateway keeps presence for its features). */
  protected readonly online = injectPresence<{ name: string }>('users');
  /** The sum of the amounts paid since the page opened; `data` is typed by AppEvents. */
  protected readonly paid = toSignal(this.realtime.on$('orders', 'payment', 'paid').pipe(scan((sum, { data }) => sum + data.amount, 0)), { initialValue: 0 });

  constructor() {
    void this.roles.load(fetch('/demo/api/rbac/role').then((r) => r.json() as Promise<Role[]>));
  }

  /** Never called: the build fails if the event map stops checking names and payloads. */
  protected typeChecks(): void {
    // @ts-expect-error: no such action in AppEvents
    this.realtime.on$('orders', 'payment', 'refunded');
    // @ts-expect-error: `amount` is a number
    this.realtime.connection.send({ feature: 'orders', entity: 'payment', action: 'paid', data: { orderId: 'o', amount: '1' } });
    // @ts-expect-error: `items()` holds Roles
    const wrong: number[] = this.roles.items();
    void wrong;
    // @ts-expect-error: `info` is { name: string }
    const age: number | undefined = this.online()[0]?.info?.age;
    void age;
  }
}
