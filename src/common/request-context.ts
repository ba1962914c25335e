import type { Request } from 'express';

/** The tenant a request acts for, set by the auth guard. */
export interface Tenant {
  orgId: string;
  sandboxName: string;
  sandboxId: string;
  sandboxType: string;
  /** Client id of the caller; recorded as createdBy/createdClient. */
  clientId: string;
}

export interface AppRequest extends Request {
  requestId?: string;
  tenant?: Tenant;
  /** Why the admission middleware refused the caller; the guard reports it. */
  authFailure?: unknown;
}
