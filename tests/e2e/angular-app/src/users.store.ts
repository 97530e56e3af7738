// A team's existing @ngrx/signals store; live updates are the one withRealtimeEntities line.
import { signalStore, withHooks } from '@ngrx/signals';
import { withEntities } from '@ngrx/signals/entities';
import { withRealtimeEntities } from 'livestate-client/ngrx-signals';
import type { User } from './events';

export const UsersStore = signalStore(
  { providedIn: 'root' },
  withEntities<User>(),
  withRealtimeEntities<User>('users', 'user', { versionField: 'version' }),
  withHooks({
    onInit(store) {
      void store.loadEntities(fetch('/demo/api/users/user').then((r) => r.json() as Promise<User[]>));
    },
  }),
);
