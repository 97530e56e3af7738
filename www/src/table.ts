// Shows one RealtimeStore as a table: rows keyed by id appear, change and disappear in place,
// each with its pending / error state and a conflict badge, and edits go through optimistic
// updates. Inputs being typed in are never overwritten.
import type { RealtimeStore } from '../../pkg/livestate.js';
import { api } from './api.js';

export interface Item { id: string; version: number; [field: string]: unknown }

export interface Column {
  field: string;
  edit?: 'text' | 'number' | 'select' | 'checkbox';
  options?: string[];
  /** Read-only cells: how to show the item. */
  show?: (item: Item) => string;
  grow?: boolean;
}

export interface TableOptions {
  collection: string; // "rbac/role"
  columns: Column[];
  deletable?: boolean;
  newestFirst?: boolean;
  /** Conflicts per id, shown as a badge until the row is edited again. */
  conflicts: Map<string, string>;
  onError: (message: string) => void;
}

export function mountTable(store: RealtimeStore<Item>, panel: HTMLElement, options: TableOptions): void {
  const tbody = panel.querySelector('tbody')!;
  const count = panel.querySelector('.count')!;
  const rows = new Map<string, { tr: HTMLTableRowElement; item: Item }>();

  const save = (id: string, patch: Partial<Item>) => {
    options.conflicts.delete(id);
    store
      .performOptimisticUpdate(id, patch, () => api.update<Item>(options.collection, id, patch))
      .catch((e: Error) => options.onError(`${options.collection} ${id}: ${e.message} (rolled back)`));
  };

  const build = (item: Item): HTMLTableRowElement => {
    const tr = document.createElement('tr');
    tr.dataset.id = item.id;
    for (const column of options.columns) {
      const td = tr.insertCell();
      td.dataset.field = column.field;
      if (column.grow) td.className = 'grow';
      if (!column.edit) continue;
      const input = document.createElement(column.edit === 'select' ? 'select' : 'input');
      input.name = column.field;
      if (input instanceof HTMLInputElement) {
        input.type = column.edit === 'number' ? 'number' : column.edit;
        if (column.edit === 'number') input.className = 'num';
      } else {
        for (const o of column.options ?? []) input.add(new Option(o, o));
      }
      input.addEventListener('change', () => {
        const value = input instanceof HTMLInputElement && input.type === 'checkbox' ? input.checked
          : column.edit === 'number' ? Number(input.value) : input.value;
        save(item.id, { [column.field]: value });
      });
      input.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter') input.blur(); });
      td.append(input);
    }
    const state = tr.insertCell();
    state.className = 'state';
    if (options.deletable) {
      const del = document.createElement('button');
      del.className = 'del';
      del.textContent = '✕';
      del.title = 'delete (optimistic)';
      del.addEventListener('click', () => {
        store.performOptimisticDelete(item.id, () => api.remove(options.collection, item.id))
          .catch((e: Error) => options.onError(`${options.collection} ${item.id}: ${e.message} (restored)`));
      });
      tr.insertCell().append(del);
    }
    return tr;
  };

  const fill = (tr: HTMLTableRowElement, item: Item) => {
    options.columns.forEach((column, i) => {
      const td = tr.cells[i];
      const value = item[column.field];
      if (!column.edit) {
        td.textContent = column.show ? column.show(item) : String(value ?? '');
        return;
      }
      const input = td.firstElementChild as HTMLInputElement | HTMLSelectElement;
      if (document.activeElement === input) return;
      if (input instanceof HTMLInputElement && input.type === 'checkbox') input.checked = Boolean(value);
      else input.value = String(value ?? '');
    });
  };

  const flash = (tr: HTMLTableRowElement, kind: 'new' | 'changed') => {
    tr.classList.remove('new', 'changed');
    void tr.offsetWidth; // restarts the animation
    tr.classList.add(kind);
  };

  // A snapshot (the first load, a resync) replaces everything at once: no flashing then.
  const render = (diffs: { type: string }[] = []) => {
    const quiet = diffs.some((d) => d.type === 'replace');
    const items = store.items();
    const ordered = options.newestFirst ? [...items].reverse() : items;
    const seen = new Set<string>();
    ordered.forEach((item, index) => {
      const id = String(item.id);
      seen.add(id);
      let row = rows.get(id);
      if (!row) {
        row = { tr: build(item), item };
        rows.set(id, row);
        fill(row.tr, item);
        if (!quiet) flash(row.tr, 'new');
      } else if (row.item !== item) {
        row.item = item;
        fill(row.tr, item);
        if (!quiet) flash(row.tr, 'changed');
      }
      if (tbody.children[index] !== row.tr) tbody.insertBefore(row.tr, tbody.children[index] ?? null);
    });
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    for (const [id, { tr }] of rows) {
      const status = store.status(id);
      const conflict = options.conflicts.get(id);
      tr.classList.toggle('pending', status.pending > 0);
      const state = tr.querySelector('.state')!;
      state.innerHTML = '';
      if (status.pending > 0) state.insertAdjacentHTML('beforeend', '<span class="saving">saving…</span>');
      else if (status.error) state.insertAdjacentHTML('beforeend', '<span class="failed">⚠ failed</span>');
      if (status.error) state.lastElementChild!.setAttribute('title', status.error);
      if (conflict) state.insertAdjacentHTML('beforeend', '<span class="conflict">⚡ conflict</span>');
      if (conflict) state.lastElementChild!.setAttribute('title', conflict);
    }
    count.textContent = String(items.length);
  };

  store.onChange(render);
  render([{ type: 'replace' }]);
}
