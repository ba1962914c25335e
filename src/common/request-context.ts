import type { Request } from 'express';
import type { RequestWork } from '../database/request-work.js';

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
  /** Its database work, bounded by REQUEST_TIMEOUT_MS (limits/request-timeout.ts). */
  work?: RequestWork;
}
