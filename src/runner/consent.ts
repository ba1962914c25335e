import type { MembershipState } from '../memberships/seen.js';
import type { ProfileState } from '../profile-store/profile-state.js';
import { type FlowMapping, valueAt } from './mapping.js';
import type { MessageTarget } from './messages.js';

/**
 * A target connection's `params.consentPolicy`: the XDM path of the consent
 * value (Adobe's consent field group: `consents.share.val`) and the values
 * that mean yes. The rules below are pure; what a destination was last told
 * (consented or withdrawn) is stored per target and profile by the runner.
 */
export interface ConsentPolicy {
  path: string;
  allowed: string[];
}

/** The policy in a target's params, or undefined (validated by the connection spec on write). */
export function consentPolicyOf(
  params: Record<string, unknown>,
): ConsentPolicy | undefined {
  const p = params.consentPolicy as
    { path?: unknown; allowed?: unknown } | undefined;
  if (!p || typeof p.path !== 'string' || !Array.isArray(p.allowed))
    return undefined;
  return { path: p.path, allowed: p.allowed.map(String) };
}

export function hasConsent(
  state: ProfileState,
  policy: ConsentPolicy,
): boolean {
  const v = valueAt(state.attributes, policy.path);
  return (
    (typeof v === 'string' ||
      typeof v === 'number' ||
      typeof v === 'boolean') &&
    policy.allowed.includes(String(v))
  );
}

/**
 * What a target with a consent policy gets for an eligible profile:
 * - `send`: consent, and the destination already holds the profile as consented;
 * - `grant`: consent given (or back): send, and remember it is held;
 * - `withdraw`: consent gone while the destination holds the profile: one
 *   message with every mapped membership `exited`, so the destination drops it;
 * - `exclude`: no consent and nothing held: nothing is sent (a CONSENT record).
 */
export function consentDecision(
  state: ProfileState,
  policy: ConsentPolicy,
  held: boolean,
): 'send' | 'grant' | 'withdraw' | 'exclude' {
  if (hasConsent(state, policy)) return held ? 'send' : 'grant';
  return held ? 'withdraw' : 'exclude';
}

/** The state a withdrawal message shows: every mapped membership exited. */
export function withdrawnState(
  state: ProfileState,
  mapping: FlowMapping,
): ProfileState {
  const memberships: Record<string, MembershipState> = {
    ...state.memberships,
  };
  for (const id of mapping.segmentIds) {
    const m = memberships[id];
    if (m) memberships[id] = { ...m, status: 'exited' };
  }
  return { ...state, memberships };
}

/**
 * The mapping with its targets' consent paths, so a change of consent alone
 * triggers an export (a grant, or the withdrawal message); the same object
 * when no target has a policy.
 */
export function withConsentPaths(
  mapping: FlowMapping,
  targets: MessageTarget[],
): FlowMapping {
  const paths = [
    ...new Set(targets.flatMap((t) => (t.consent ? [t.consent.path] : []))),
  ];
  return paths.length ? { ...mapping, consentPaths: paths } : mapping;
}
