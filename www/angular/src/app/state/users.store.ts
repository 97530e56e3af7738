// Users as an @ngrx/signals store: the team's usual `signalStore` with `withEntities`, and live
// updates (versions, optimistic switches that roll back, reload after lost events) added by
// one feature, `withRealtimeEntities`. The roles use the other style, a service
// (RbacStateManager); both share the app's one connection.
import { computed, inject } from '@angular/core';
import { signalStore, withComputed, withHooks, withMethods } from '@ngrx/signals';
import { withEntities } from '@ngrx/signals/entities';
import { withRealtimeEntities } from 'livestate-client/ngrx-signals';
import { DemoApi } from './demo-api.service';

export interface User {
  id: string;
  name: string;
  email: string;
  roleId: string;
  active: boolean;
  version: number;
}

export const UsersStore = signalStore(
  { providedIn: 'root' },
  withEntities<User>(),
  withRealtimeEntities<User>('users', 'user', () => {
    const api = inject(DemoApi);
    return { versionField: 'version', reload: () => api.list<User>('users/user') };
  }),
  withComputed(({ entities }) => ({ active: computed(() => entities().filter((u) => u.active)) })),
  withMethods((store, api = inject(DemoApi)) => ({
    setActive(id: string, active: boolean): Promise<User | void> {
      return store.updateOptimistic(id, { active }, () => api.update<User>('users/user', id, { active }));
    },
  })),
  withHooks({
    onInit(store, api = inject(DemoApi)) {
      void store.loadEntities(api.list<User>('users/user'));
    },
  }),
);
