import type { TenantScopedEntity } from './tenant-scoped.entity.js';
import { etagOf } from './etag.js';
import type { Tenant } from './request-context.js';

/** Metadata every Flow Service item carries (CONTRACT B §2.1). */
export function metaOf(e: TenantScopedEntity): Record<string, unknown> {
  return {
    id: e.id,
    createdAt: e.createdAt.getTime(),
    updatedAt: e.updatedAt.getTime(),
    createdBy: e.createdBy,
    updatedBy: e.updatedBy,
    createdClient: e.createdClient,
    updatedClient: e.updatedClient,
    sandboxId: e.sandboxId,
    sandboxName: e.sandboxName,
    imsOrgId: e.orgId,
    name: e.name,
    description: e.description ?? '',
    state: e.state,
    version: etagOf(e.version),
    etag: etagOf(e.version),
  };
}

/** Columns set on create from the calling tenant. */
export function ownedBy(
  tenant: Tenant,
): Pick<
  TenantScopedEntity,
  | 'orgId'
  | 'sandboxName'
  | 'sandboxId'
  | 'createdBy'
  | 'updatedBy'
  | 'createdClient'
  | 'updatedClient'
> {
  return {
    orgId: tenant.orgId,
    sandboxName: tenant.sandboxName,
    sandboxId: tenant.sandboxId,
    createdBy: `${tenant.clientId}@AdobeID`,
    updatedBy: `${tenant.clientId}@AdobeID`,
    createdClient: tenant.clientId,
    updatedClient: tenant.clientId,
  };
}

export function tenantWhere(tenant: Tenant): {
  orgId: string;
  sandboxName: string;
} {
  return { orgId: tenant.orgId, sandboxName: tenant.sandboxName };
}
