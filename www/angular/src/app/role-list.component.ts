// Roles with an optimistic rename: the new name shows at once, the row says "saving…" while
// the request runs, and a failure rolls the name back and shows the error on the row.
import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { RbacStateManager } from './state/rbac-state.manager';

@Component({
  selector: 'app-role-list',
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <h2>Roles <span class="count">{{ rbac.items().length }}</span></h2>
    @if (rbac.loading()) { <p class="muted">loading…</p> }
    @if (failure(); as f) { <p class="failure">{{ f }}</p> }
    <table>
      @for (role of rbac.items(); track role.id) {
        @let status = rbac.status(role.id);
        <tr [attr.data-id]="role.id" [class.pending]="status.pending > 0">
          <td class="grow">
            <input name="name" [value]="role.name" (change)="rename(role.id, $any($event.target).value)" (keydown.enter)="$any($event.target).blur()" />
          </td>
          <td>{{ role.permissions.length }} {{ role.permissions.length === 1 ? 'permission' : 'permissions' }}</td>
          <td class="state">
            @if (status.pending > 0) { <span class="saving">saving…</span> }
            @else if (status.error) { <span class="failed" [title]="status.error">⚠ failed</span> }
            @if (rbac.conflicts().get(role.id); as c) { <span class="conflict" [title]="'server changed ' + c.fields.join(', ')">⚡ conflict</span> }
          </td>
        </tr>
      } @empty {
        <tr><td class="muted">no roles</td></tr>
      }
    </table>
  `,
})
export class RoleListComponent {
  protected readonly rbac = inject(RbacStateManager);
  protected readonly failure = signal<string | undefined>(undefined);

  protected rename(id: string, name: string): void {
    this.failure.set(undefined);
    this.rbac.rename(id, name).catch((e: Error) => this.failure.set(`Rename of ${id} failed and was rolled back: ${e.message}`));
  }
}
