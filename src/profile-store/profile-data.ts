/**
 * The profile store's vocabulary: what a stored profile is made of. Shared
 * by ingestion (which validates and merges fragments into these shapes) and
 * every reader of profiles.
 */

export type JsonObject = Record<string, unknown>;

export type AuthenticatedState = 'ambiguous' | 'authenticated' | 'loggedOut';

export interface IdentityEntry {
  id: string;
  primary?: boolean;
  authenticatedState?: AuthenticatedState;
}

/** XDM identityMap: lower-cased namespace → identities. */
export type IdentityMap = Record<string, IdentityEntry[]>;

export interface IdentityKey {
  namespace: string;
  id: string;
}

export function identityKeys(map: IdentityMap): IdentityKey[] {
  const out: IdentityKey[] = [];
  for (const [namespace, entries] of Object.entries(map)) {
    for (const e of entries) out.push({ namespace, id: e.id });
  }
  return out;
}

/** Stable string key of an identity (namespace and id cannot contain U+0000 in JSON text we accept). */
export function identityKeyString(k: IdentityKey): string {
  return `${k.namespace}\u0000${k.id}`;
}
