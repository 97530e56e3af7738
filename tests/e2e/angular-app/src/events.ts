// The app's events, declared once.
export interface Role {
  id: string;
  name: string;
  version: number;
}
export interface User {
  id: string;
  name: string;
  active: boolean;
  version: number;
}
export interface AppEvents {
  rbac: { role: { created: Role; updated: Role; deleted: { id: string } } };
  users: { user: { created: User; updated: User; deleted: { id: string } } };
  orders: { payment: { paid: { orderId: string; amount: number } } };
}
