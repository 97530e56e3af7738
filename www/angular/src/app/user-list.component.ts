// Users with their role's name (a computed across two stores) and an optimistic active switch.
import { ChangeDetectionStrategy, Component, computed, inject } from '@angular/core';
import { RbacStateManager } from './state/rbac-state.manager';
import { UsersStore } from './state/users.store';

@Component({
  selector: 'app-user-list',
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <h2>Users <span class="count">{{ users.active().length }} active of {{ users.entities().length }}</span></h2>
    <table>
      @for (user of rows(); track user.id) {
        <tr [attr.data-id]="user.id" [class.pending]="users.realtimeStatus(user.id).pending > 0">
          <td class="grow">{{ user.name }}</td>
          <td>{{ user.roleName }}</td>
          <td><input type="checkbox" [checked]="user.active" (change)="users.setActive(user.id, $any($event.target).checked).catch(noop)" /></td>
        </tr>
      }
    </table>
  `,
})
export class UserListComponent {
  protected readonly users = inject(UsersStore);
  private readonly rbac = inject(RbacStateManager);
  protected readonly rows = computed(() => {
    const roles = new Map(this.rbac.items().map((r) => [r.id, r.name]));
    return this.users.entities().map((u) => ({ ...u, roleName: roles.get(u.roleId) ?? u.roleId }));
  });
  // The row's error state shows the failure; nothing else to do with it here.
  protected readonly noop = () => {};
}
