// The demo's events, declared once: feature → entity → action → the type of `data`. The
// client, the RxJS bridge and `send` check names and payloads against it.
import type { Role } from './rbac-state.manager';
import type { User } from './users.store';

type Item = { id: string } & Record<string, unknown>;

export interface AppEvents {
  rbac: { role: { created: Role; updated: Role; deleted: { id: string } } };
  users: { user: { created: User; updated: User; deleted: { id: string } } };
  products: { product: { created: Item; updated: Item; deleted: { id: string } } };
  orders: {
    order: { created: Item; updated: Item; deleted: { id: string }; delivered: { id: string }; cancelled: { id: string } };
    payment: { paid: { orderId: string; amount: number } };
  };
}
