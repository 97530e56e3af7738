// The seed's RbacStateManager: roles as signals, an optimistic rename, and the RBAC-specific
// reactions to updates (the permission cache is dropped for a role that changed).
import { Injectable, inject } from '@angular/core';
import { RealtimeStoreService } from 'livestate-client/angular';
import { DemoApi } from './demo-api.service';

export interface Role {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  version: number;
}

@Injectable({ providedIn: 'root' })
export class RbacStateManager extends RealtimeStoreService<Role> {
  private readonly api = inject(DemoApi);
  private readonly permissionCache = new Map<string, Set<string>>();

  constructor() {
    super('rbac', 'role', { versionField: 'version' });
    void this.load();
  }

  protected fetchAll(): Promise<Role[]> {
    return this.api.list<Role>('rbac/role');
  }

  protected override handleItemUpdated(role: Role): void {
    this.permissionCache.delete(role.id);
  }

  protected override handleItemDeleted(id: string): void {
    this.permissionCache.delete(id);
  }

  /** Whether a role grants a permission, cached until the role changes. */
  grants(roleId: string, permission: string): boolean {
    let cached = this.permissionCache.get(roleId);
    if (!cached) {
      cached = new Set(this.get(roleId)?.permissions ?? []);
      this.permissionCache.set(roleId, cached);
    }
    return cached.has(permission);
  }

  rename(id: string, name: string): Promise<Role | void> {
    return this.update(id, { name }, () => this.api.update<Role>('rbac/role', id, { name }));
  }
}
