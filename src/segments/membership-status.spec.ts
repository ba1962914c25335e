import { describe, expect, it } from 'vitest';
import { compareTxIds, isActive } from './membership-status.js';

describe('membership status helpers', () => {
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
});
