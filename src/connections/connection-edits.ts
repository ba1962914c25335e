import { Injectable } from '@nestjs/common';
import type { Queryable } from '../database/transaction.js';

/** Which kind of connection was edited: a base connection or a target connection. */
export type EditedConnectionKind = 'base' | 'target';

export type ConnectionEditListener = (
  q: Queryable,
  connectionId: string,
  kind: EditedConnectionKind,
) => Promise<void>;

/**
 * Tells whoever listens that a connection was edited, inside the edit's
 * transaction. The runner listens (it retries the flows publishing through
 * the connection at once); connections know nothing of it, so the
 * dependency points from the runner to connections only.
 */
@Injectable()
export class ConnectionEdits {
  private readonly listeners: ConnectionEditListener[] = [];

  listen(listener: ConnectionEditListener): void {
    this.listeners.push(listener);
  }

  async edited(
    q: Queryable,
    connectionId: string,
    kind: EditedConnectionKind,
  ): Promise<void> {
    for (const l of this.listeners) await l(q, connectionId, kind);
  }
}
