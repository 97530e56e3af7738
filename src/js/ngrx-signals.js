// livestate-client/ngrx-signals: live updates for an @ngrx/signals store that already keeps its
// items with `withEntities()`, in one line: `withRealtimeEntities('rbac', 'role')`. A
// RealtimeStore (from livestate-client/angular) makes every decision (versions, optimistic
// operations, reload after lost events) and the entity state follows its changes, batch by
// batch, through @ngrx/signals' own entity updaters.
import { patchState, signalStoreFeature, withHooks, withMethods, withProps } from '@ngrx/signals';
import { removeEntity, setAllEntities, setEntity } from '@ngrx/signals/entities';
import { injectRealtimeStore } from './angular.js';

export function withRealtimeEntities(feature, entity, options = {}) {
  return signalStoreFeature(
    withProps(() => {
      // A function is called here, in the store's injection context (to `inject` an API service
      // for `reload`, say).
      const o = typeof options === 'function' ? options() : options;
      const key = o.keyField ?? 'id';
      const state = injectRealtimeStore(feature, entity, o);
      return {
        _realtime: state,
        _entityConfig: key === 'id' ? undefined : { selectId: (item) => item[key] },
        realtimeLoading: state.loading,
        realtimeError: state.error,
        realtimePending: state.pendingCount,
      };
    }),
    withMethods(({ _realtime }) => ({
      realtimeStatus: (id) => _realtime.status(id),
      loadEntities: (items) => _realtime.load(items),
      updateOptimistic: (id, patch, api) => _realtime.update(id, patch, api),
      createOptimistic: (item, api) => _realtime.create(item, api),
      deleteOptimistic: (id, api) => _realtime.remove(id, api),
    })),
    withHooks({
      onInit(store) {
        const { _realtime: realtime, _entityConfig: config } = store;
        // The listener goes with the store: injectRealtimeStore disposes it with the injector.
        realtime.onChange((diffs) => {
          // A replace in the batch (a load, a reload) makes every other change of it moot.
          if (diffs.some((d) => d.type === 'replace')) return patchState(store, setAllEntities(realtime.items(), config));
          patchState(store, ...diffs.map((d) => (d.type === 'remove' ? removeEntity(d.id) : setEntity(d.item, config))));
        });
        // Items the store already holds (it may have been loaded before this hook ran).
        if (realtime.items().length) patchState(store, setAllEntities(realtime.items(), config));
      },
    }),
  );
}
