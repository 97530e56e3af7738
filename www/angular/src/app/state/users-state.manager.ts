// The seed's UsersStateManager: users as signals, plus derived state (active users) and the
// users-specific reaction to updates (a deactivated user's sessions are counted as ended).
import { Injectable, computed, inject, signal } from '@angular/core';
import { RealtimeStoreService } from '../livestate/realtime-store';
import { DemoApi } from './demo-api.service';

export interface User {
  id: string;
  name: string;
  email: string;
  roleId: string;
  active: boolean;
  version: number;
}

@Injectable({ providedIn: 'root' })
export class UsersStateManager extends RealtimeStoreService<User> {
  private readonly api = inject(DemoApi);
  readonly active = computed(() => this.items().filter((u) => u.active));
  /** Users whose sessions were ended because they were deactivated. */
  readonly endedSessions = signal<string[]>([]);

  constructor() {
    super('users', 'user', { versionField: 'version' });
    void this.load();
  }

  protected fetchAll(): Promise<User[]> {
    return this.api.list<User>('users/user');
  }

  protected override handleItemUpdated(user: User): void {
    if (!user.active && !this.endedSessions().includes(user.id)) this.endedSessions.update((ids) => [...ids, user.id]);
  }

  setActive(id: string, active: boolean): Promise<User | void> {
    return this.update(id, { active }, () => this.api.update<User>('users/user', id, { active }));
  }
}
