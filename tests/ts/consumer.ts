// A small app written against the generated typings; `tsc --strict --noEmit` must accept it
// (and reject the misuses marked @ts-expect-error, which proves the types are not `any`).
import init, {
  RealtimeClient,
  RealtimeStore,
  type StoreDiff,
  type ItemStatus,
  type ClientOptions,
  type ConnectionStatus,
  LivestateError,
  isLivestateError,
  type ErrorCode,
  type RealtimeErrorEvent,
  type StopReason,
  type WebSocketMessage,
  type OutgoingEvent,
  type ClientStats,
  type PresenceChange,
  type PresenceMember,
} from '../../pkg/livestate.js';

interface Role { id: string; name: string }

export async function main(): Promise<void> {
  await init();
  const options: ClientOptions = {
    url: '/ws',
    token: async () => 'jwt',
    backoff: { min: 250, max: 10_000, factor: 2, jitter: 1 },
    maxReconnectAttempts: Infinity,
    heartbeatTimeout: 45_000,
    features: ['rbac'],
    outbox: { maxMessages: 50, maxAge: 10_000 },
    debug: (line: string) => console.debug(line),
  };
  const client = new RealtimeClient(options);

  const off: () => void = client.onStatus((status: ConnectionStatus, reason?: StopReason) => {
    if (status === 'disconnected' && reason?.kind === 'maxAttempts') console.log(reason.attempts);
  });
  client.onError((e: RealtimeErrorEvent) => {
    if (e.kind === 'invalidFrame') console.warn(e.reason, e.frame);
    if (e.kind === 'server') console.warn(e.code, e.feature);
    if (e.kind === 'unreachable') console.warn(e.url, e.message);
  });
  const sub = client.subscribeToEvent('rbac', 'role', 'created', (data: Role, message: WebSocketMessage<Role>) => {
    console.log(data.name, message.meta.priority, message.meta.timestamp);
  });
  client.subscribeToFeature('users', (_data: unknown, message) => console.log(message.entity));
  client.connect();

  const event: OutgoingEvent<Role> = { feature: 'rbac', entity: 'role', action: 'created', data: { id: '1', name: 'Admin' } };
  try {
    await client.send(event);
  } catch (err) {
    if (isLivestateError(err) && (err.code === 'notConnected' || err.code === 'outboxFull' || err.code === 'outboxExpired')) console.log('later');
    if (err instanceof LivestateError) console.log(err.code satisfies ErrorCode, err.message);
  }
  client.onResync((feature: string) => console.log('reload', feature));
  const stopPresence: () => void = client.onPresence<{ name: string }>('rbac', (change: PresenceChange<{ name: string }>) => {
    const names: string[] = change.members.map((m) => m.info?.name ?? m.userId);
    if (change.type === 'join' && change.member) console.log(change.member.connectionId, names);
  });
  stopPresence();
  const online: PresenceMember[] = client.presence('rbac');
  console.log(online.length);
  const stats: ClientStats = client.stats();
  const status: ConnectionStatus = client.status;
  console.log(stats.invalidFrames, status, client.reconnectAttempts, sub.active);

  const roles = new RealtimeStore<Role>(client, 'rbac', 'role', {
    versionField: 'name',
    reload: async () => [{ id: '1', name: 'Admin' }],
    onConflict: (c) => console.log(c.fields, c.mine.name, c.theirs.name),
    onAction: (action, data) => console.log(action, data),
  });
  const list: Role[] = roles.items();
  const one: Role | undefined = roles.get('1');
  const st: ItemStatus = roles.status('1');
  roles.onChange((diffs: StoreDiff<Role>[]) => diffs.forEach((d) => d.type === 'update' && console.log(d.item.name)));
  const saved: Role | void = await roles.performOptimisticUpdate('1', { name: 'Owner' }, async () => ({ id: '1', name: 'Owner' }));
  console.log(list.length, one?.name, st.pending, saved);
  // Every other member of RealtimeStore, so its hand-written declaration is exercised whole
  // (tests/ts/store-api.mjs checks that the declaration and the class list the same members).
  const counts: number[] = [roles.size, roles.pendingCount, roles.invalidEvents];
  const state: [boolean, string | undefined] = [roles.loading, roles.error];
  roles.replaceAll([{ id: '2', name: 'Viewer' }]);
  await roles.load(Promise.resolve([{ id: '2', name: 'Viewer' }]));
  roles.applyBatch([{ action: 'created', data: { id: '3', name: 'Guest' } }]);
  const created: Role | void = await roles.performOptimisticCreate({ id: 'tmp-1', name: 'New' }, async () => ({ id: '4', name: 'New' }));
  await roles.performOptimisticDelete('4', async () => undefined);
  console.log(counts, state, created);
  // @ts-expect-error: keyField must be a field of Role
  new RealtimeStore<Role>(client, 'rbac', 'role', { keyField: 'uuid' });
  // @ts-expect-error: the patch must be a Partial<Role>
  void roles.performOptimisticUpdate('1', { name: 42 }, async () => undefined);
  roles.dispose();
  roles.free();

  // @ts-expect-error: not a status
  const wrong: ConnectionStatus = 'reconnected';
  // @ts-expect-error: url is required
  new RealtimeClient({ token: 'x' });
  // @ts-expect-error: debug is a boolean or a function
  new RealtimeClient({ url: '/ws', debug: 'verbose' });
  // @ts-expect-error: backoff.min is a number
  new RealtimeClient({ url: '/ws', backoff: { min: '1s' } });
  console.log(wrong);

  // An event map declared once types every subscription, callback and send.
  interface Payment { orderId: string; amount: number }
  interface AppEvents {
    rbac: { role: { created: Role; updated: Role; deleted: { id: string } } };
    orders: { payment: { paid: Payment } };
  }
  const typed = new RealtimeClient<AppEvents>(options);
  typed.subscribeToEvent('orders', 'payment', 'paid', (p, message) => console.log(p.amount.toFixed(2), message.data.orderId));
  typed.subscribeToEntity('rbac', 'role', (data) => console.log('id' in data ? data.id : ''));
  typed.subscribeToFeature('orders', (data: Payment) => console.log(data.orderId));
  await typed.send({ feature: 'rbac', entity: 'role', action: 'deleted', data: { id: '1' } });
  // @ts-expect-error: no such action in the map
  typed.subscribeToEvent('orders', 'payment', 'refunded', () => {});
  // @ts-expect-error: no such feature in the map
  typed.subscribeToFeature('billing', () => {});
  // @ts-expect-error: a payment's amount is a number, not a string
  typed.subscribeToEvent('orders', 'payment', 'paid', (p: { amount: string }) => console.log(p));
  // @ts-expect-error: the data of rbac.role.deleted is { id: string }
  void typed.send({ feature: 'rbac', entity: 'role', action: 'deleted', data: { name: 'x' } });
  const store = new RealtimeStore<Role>(typed, 'rbac', 'role');
  // Without a type argument a store's items are records of unknowns, never `any`.
  const loose = new RealtimeStore(client, 'rbac', 'role');
  // @ts-expect-error: an unknown field must be narrowed before use
  console.log(loose.items()[0].name.length, store.size);
  sub.unsubscribe();
  off();
  client.disconnect();
}
