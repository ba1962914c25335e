import { describe, expect, it } from 'vitest';
import type { ProfileState } from '../profile-store/profile-state.js';
import {
  type FlowMapping,
  type PayloadOptions,
  buildPayload,
} from './mapping.js';
import { bodyWriter } from './message-json.js';

const segments = new Map([
  ['s1', { name: 'Gold "VIP"', createdAt: 1_000, updatedAt: 2_000 }],
  ['s2', { name: 'Zürich ☃', createdAt: 3_000, updatedAt: 4_000 }],
]);

const optionsOf = (names: boolean, timestamps: boolean): PayloadOptions => ({
  includeSegmentNames: names,
  includeSegmentTimestamps: timestamps,
  segments,
  mappingCreatedAt: 5_000,
  mappingUpdatedAt: 6_000,
});

const state: ProfileState = {
  profileId: 'p1',
  attributes: {
    person: {
      name: { firstName: 'Ann "A"\n', lastName: 'Ünïcode \u2028 ☃' },
      birthDate: '1990-01-01',
      nick: 'lone \ud800 and paired 😀, tab\t back\\slash \u007f',
    },
    loyalty: { points: 12.5, tier: null, tags: ['a', { b: [1, null] }] },
    homeAddress: { city: 'Basel', street1: 'x' },
    list: [{ a: 1 }],
    empty: {},
    '': { weird: true },
  },
  // Stored data can hold what validation would refuse today; JSON.parse
  // makes `__proto__` a key, as the driver does.
  identityMap: JSON.parse(
    JSON.stringify({
      email: [{ id: 'a@x.io', primary: true }, { id: 7 }, { nope: 1 }, 'x'],
      ecid: [],
      '10': [{ id: 'numeric namespace' }],
      bad: 'not a list',
    }).replace(/}$/, ',"__proto__":[{"id":"proto"}]}'),
  ) as ProfileState['identityMap'],
  memberships: {
    s1: {
      status: 'realized',
      lastQualificationTime: '2026-12-01T00:00:00.123Z',
    },
    s2: { status: 'exited', lastQualificationTime: '2026-12-01T00:00:00Z' },
    s3: { status: 'existing', lastQualificationTime: '2026-12-01T00:00:00Z' },
  },
};

/** Mappings the writer handles itself, and ones it leaves to buildPayload. */
const mappings: Record<string, FlowMapping & { direct: boolean }> = {
  'nested paths in selector order': {
    segmentIds: ['s2', 's1', 'missing'],
    attributePaths: [
      'person.name.lastName',
      'homeAddress.city',
      'person.birthDate',
      'person.nick',
      'person.name.firstName',
      'loyalty.points',
      'loyalty.tier',
      'loyalty.tags',
      'missing.path',
      'empty',
      '.weird',
    ],
    mandatoryFields: [],
    direct: true,
  },
  'every mapped path has a value': {
    segmentIds: ['s1', 's2'],
    attributePaths: [
      'person.name.lastName',
      'homeAddress.city',
      'person.birthDate',
      'person.nick',
      'person.name.firstName',
      'loyalty.tags',
      'empty',
    ],
    mandatoryFields: [],
    direct: true,
  },
  'no attributes, no memberships': {
    segmentIds: ['s9'],
    attributePaths: [],
    mandatoryFields: [],
    direct: true,
  },
  'a mapped path that is a prefix of another': {
    segmentIds: ['s1'],
    attributePaths: ['homeAddress', 'homeAddress.city', 'person.name'],
    mandatoryFields: [],
    direct: false,
  },
  'array-index keys': {
    segmentIds: ['s1'],
    attributePaths: ['x.2', 'x.1', 'list.0.a', 'person.birthDate'],
    mandatoryFields: [],
    direct: false,
  },
  'a key the message sets itself': {
    segmentIds: ['s1'],
    attributePaths: ['identityMap.email', 'person.birthDate'],
    mandatoryFields: [],
    direct: false,
  },
};

describe('bodyWriter', () => {
  for (const [name, mapping] of Object.entries(mappings)) {
    it(`writes exactly JSON.stringify(buildPayload(…)): ${name}`, () => {
      const writer = bodyWriter(mapping);
      expect(writer.direct).toBe(mapping.direct);
      for (const opts of [
        optionsOf(false, false),
        optionsOf(true, false),
        optionsOf(false, true),
        optionsOf(true, true),
      ]) {
        const expected = JSON.stringify(buildPayload(state, mapping, opts));
        expect(writer.write(state, opts)).toBe(expected);
      }
    });
  }

  it('fails like buildPayload on a time it cannot read', () => {
    const mapping = mappings['nested paths in selector order'] as FlowMapping;
    const bad: ProfileState = {
      ...state,
      memberships: {
        s1: { status: 'realized', lastQualificationTime: 'not a time' },
      },
    };
    const opts = optionsOf(false, false);
    expect(() => buildPayload(bad, mapping, opts)).toThrow(RangeError);
    expect(() => bodyWriter(mapping).write(bad, opts)).toThrow(RangeError);
  });
});
