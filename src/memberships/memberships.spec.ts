import { describe, expect, it } from 'vitest';
import {
  type MembershipState,
  markSeen,
  shownAsExistingInBatch,
} from './seen.js';
import {
  compareTxIds,
  isActive,
  realizedTxOf,
  storedMembership,
} from './stored-membership.js';
import {
  type SegmentRule,
  exitAll,
  membershipTransitions,
} from './transitions.js';

describe('stored memberships', () => {
  it('orders transaction ids numerically, not as text', () => {
    expect(compareTxIds('9', '10')).toBeLessThan(0);
    expect(compareTxIds('100000', '99999')).toBeGreaterThan(0);
    expect(compareTxIds('4294967296', '4294967295')).toBeGreaterThan(0);
    expect(compareTxIds('12345', '12345')).toBe(0);
    expect(compareTxIds('12344', '12345')).toBeLessThan(0);
  });

  it('counts realized and existing as members, with or without the transaction id', () => {
    expect(isActive(['realized', '2026-01-01T00:00:00.000Z', '42'])).toBe(true);
    expect(isActive(['existing', '2026-01-01T00:00:00.000Z'])).toBe(true);
    expect(isActive(['exited', '2026-01-01T00:00:00.000Z'])).toBe(false);
    expect(isActive(undefined)).toBe(false);
  });

  it('reads the realizing transaction; entries written before it was stored count as seen by any flow', () => {
    expect(realizedTxOf(storedMembership('realized', 't', '42'))).toBe('42');
    expect(realizedTxOf(['realized', 't'])).toBe('0');
    expect(realizedTxOf(storedMembership('existing', 't', '42'))).toBe(
      undefined,
    );
  });
});

describe('membershipTransitions', () => {
  const member = new Set<string>();
  const seg = (id: string): SegmentRule<unknown> => ({
    id,
    isMember: () => member.has(id),
  });
  const at = (iso: string, txId: string) => ({
    now: new Date(iso),
    nowIso: iso,
    txId,
  });

  it('enters as realized, stays as existing, leaves as exited, re-enters as realized', () => {
    member.add('s');
    const t1 = membershipTransitions({}, [seg('s')], {}, at('T1', '10'));
    expect(t1.next).toEqual({ s: ['realized', 'T1', '10'] });
    expect(t1.changes).toEqual([
      { segmentId: 's', from: null, to: 'realized' },
    ]);
    const t2 = membershipTransitions({}, [seg('s')], t1.next, at('T2', '11'));
    expect(t2.next).toEqual({ s: ['existing', 'T2'] });
    expect(t2.changes).toEqual([]);
    const t3 = membershipTransitions({}, [seg('s')], t2.next, at('T3', '12'));
    expect(t3.patch).toBeNull();
    member.delete('s');
    const t4 = membershipTransitions({}, [seg('s')], t3.next, at('T4', '13'));
    expect(t4.next).toEqual({ s: ['exited', 'T4'] });
    expect(t4.changes).toEqual([
      { segmentId: 's', from: 'existing', to: 'exited' },
    ]);
    member.add('s');
    const t5 = membershipTransitions({}, [seg('s')], t4.next, at('T5', '14'));
    expect(t5.changes).toEqual([
      { segmentId: 's', from: 'exited', to: 'realized' },
    ]);
  });

  it('exitAll leaves every active membership, in segment order', () => {
    expect(
      exitAll({
        b: ['existing', 't'],
        a: ['realized', 't', '1'],
        c: ['exited', 't'],
      }),
    ).toEqual([
      { segmentId: 'a', from: 'realized', to: 'exited' },
      { segmentId: 'b', from: 'existing', to: 'exited' },
    ]);
  });
});

describe('the realized → existing rule', () => {
  it('a change export shows realized only in the first export that reaches the qualification', () => {
    // Position before the realizing transaction: not yet shown.
    expect(shownAsExistingInBatch('100', { txId: '99' }, '100')).toBe(false);
    // Past it: shown already.
    expect(shownAsExistingInBatch('100', { txId: '101' }, '101')).toBe(true);
    expect(shownAsExistingInBatch('9', { txId: '10' }, '10')).toBe(true);
    // Inside it: ahead only if the profile's first change in the batch is from it.
    expect(shownAsExistingInBatch('100', { txId: '100' }, '100')).toBe(false);
    expect(shownAsExistingInBatch('100', { txId: '100' }, '101')).toBe(true);
  });

  it('markSeen turns only realized entries into existing', () => {
    const m: Record<string, MembershipState> = {
      a: { status: 'realized', lastQualificationTime: 't', realizedTx: '1' },
      b: { status: 'exited', lastQualificationTime: 't' },
      c: { status: 'realized', lastQualificationTime: 't', realizedTx: '2' },
    };
    markSeen(m, ['a', 'b', 'missing']);
    expect([m.a?.status, m.b?.status, m.c?.status]).toEqual([
      'existing',
      'exited',
      'realized',
    ]);
  });
});
