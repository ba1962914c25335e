import { describe, expect, it } from 'vitest';
import {
  buildPayload,
  type FlowMapping,
  isEligible,
  isoSeconds,
  mappingOf,
  pathTouches,
  triggersOf,
} from './mapping.js';
import type { ProfileChange } from '../profile-store/change-log.js';
import type { ProfileState } from '../profile-store/profile-state.js';

const PAGE_EXAMPLE = `{
  "person": {
    "birthDate": "YYYY-MM-DD",
    "name": {
      "firstName": "John",
      "lastName": "Doe"
    }
  },
  "personalEmail": {
    "address": "john.doe@acme.com"
  },
  "segmentMembership": {
    "ups": {
      "7841ba61-23c1-4bb3-a495-00d3g5fe1e93": {
        "lastQualificationTime": "2020-05-25T21:24:39Z",
        "status": "exited"
      },
      "59bd2fkd-3c48-4b18-bf56-4f5c5e6967ae": {
        "lastQualificationTime": "2020-05-25T23:37:33Z",
        "status": "existing"
      }
    }
  },
  "identityMap": {
    "ecid": [
      {
        "id": "14575006536349286404619648085736425115"
      },
      {
        "id": "66478888669296734530114754794777368480"
      }
    ],
    "email_lc_sha256": [
      {
        "id": "655332b5fa2aea4498bf7a290cff017cb4"
      },
      {
        "id": "66baf76ef9de8b42df8903f00e0e3dc0b7"
      }
    ]
  }
}`;

const transformations = [
  {
    name: 'GeneralTransform',
    params: {
      profileSelectors: {
        selectors: [
          'person.birthDate',
          'person.name.firstName',
          'person.name.lastName',
          'personalEmail.address',
        ].map((path) => ({
          type: 'JSON_PATH',
          value: { path, operator: 'EXISTS' },
        })),
      },
      segmentSelectors: {
        selectors: [
          '7841ba61-23c1-4bb3-a495-00d3g5fe1e93',
          '59bd2fkd-3c48-4b18-bf56-4f5c5e6967ae',
        ].map((id) => ({
          type: 'PLATFORM_SEGMENT',
          value: { id },
        })),
      },
    },
  },
];

const profile: ProfileState = {
  profileId: 'p1',
  attributes: {
    person: {
      birthDate: 'YYYY-MM-DD',
      name: { firstName: 'John', lastName: 'Doe', middleName: 'Q' },
      gender: 'male',
    },
    personalEmail: { address: 'john.doe@acme.com', status: 'active' },
    homeAddress: { city: 'Basel' },
  },
  identityMap: {
    ecid: [
      { id: '14575006536349286404619648085736425115', primary: true },
      { id: '66478888669296734530114754794777368480' },
    ],
    email_lc_sha256: [
      {
        id: '655332b5fa2aea4498bf7a290cff017cb4',
        authenticatedState: 'authenticated',
      },
      { id: '66baf76ef9de8b42df8903f00e0e3dc0b7' },
    ],
  },
  memberships: {
    '7841ba61-23c1-4bb3-a495-00d3g5fe1e93': {
      status: 'exited',
      lastQualificationTime: '2020-05-25T21:24:39.512Z',
    },
    '59bd2fkd-3c48-4b18-bf56-4f5c5e6967ae': {
      status: 'existing',
      lastQualificationTime: '2020-05-25T23:37:33Z',
    },
    'unmapped-segment': {
      status: 'realized',
      lastQualificationTime: '2020-05-25T23:37:33Z',
    },
  },
};

const opts = {
  includeSegmentNames: false,
  includeSegmentTimestamps: false,
  segments: new Map(),
  mappingCreatedAt: 1,
  mappingUpdatedAt: 2,
};

describe('payload', () => {
  it("reproduces the product page's example message exactly, key order included", () => {
    const body = buildPayload(profile, mappingOf(transformations), opts);
    expect(JSON.stringify(body, null, 2)).toBe(PAGE_EXAMPLE);
  });

  it('omits mapped attributes without a value and unmapped segments', () => {
    const mapping: FlowMapping = {
      segmentIds: ['59bd2fkd-3c48-4b18-bf56-4f5c5e6967ae'],
      attributePaths: ['mobilePhone.number', 'person.name.firstName'],
      mandatoryFields: [],
    };
    const body = buildPayload(profile, mapping, opts);
    expect(body).toEqual({
      person: { name: { firstName: 'John' } },
      segmentMembership: {
        ups: {
          '59bd2fkd-3c48-4b18-bf56-4f5c5e6967ae': {
            lastQualificationTime: '2020-05-25T23:37:33Z',
            status: 'existing',
          },
        },
      },
      identityMap: expect.any(Object) as unknown,
    });
  });

  it('adds segment names and timestamps when the target connection asks for them', () => {
    const mapping: FlowMapping = {
      segmentIds: ['59bd2fkd-3c48-4b18-bf56-4f5c5e6967ae'],
      attributePaths: [],
      mandatoryFields: [],
    };
    const segments = new Map([
      [
        '59bd2fkd-3c48-4b18-bf56-4f5c5e6967ae',
        { name: 'Gold', createdAt: 10, updatedAt: 20 },
      ],
    ]);
    const body = buildPayload(profile, mapping, {
      ...opts,
      includeSegmentNames: true,
      includeSegmentTimestamps: true,
      segments,
    });
    expect(
      (body.segmentMembership as { ups: Record<string, unknown> }).ups[
        '59bd2fkd-3c48-4b18-bf56-4f5c5e6967ae'
      ],
    ).toEqual({
      lastQualificationTime: '2020-05-25T23:37:33Z',
      status: 'existing',
      name: 'Gold',
      createdAt: 10,
      updatedAt: 20,
      mappingCreatedAt: 1,
      mappingUpdatedAt: 2,
    });
  });
});

describe('export rules', () => {
  const mapping: FlowMapping = {
    segmentIds: ['s1', 's2'],
    attributePaths: ['person.name', 'personalEmail.address'],
    mandatoryFields: [],
  };
  const change = (over: Partial<ProfileChange>): ProfileChange => ({
    txId: '1',
    id: '1',
    profileId: 'p',
    changedAt: new Date(),
    changedPaths: [],
    identitiesChanged: false,
    membershipChanges: [],
    deleted: false,
    snapshot: null,
    ...over,
  });

  it('fires each trigger only for what the flow maps', () => {
    expect(
      triggersOf(
        change({
          membershipChanges: [{ segmentId: 's1', from: null, to: 'realized' }],
        }),
        mapping,
      ),
    ).toEqual(['segment']);
    expect(
      triggersOf(
        change({
          membershipChanges: [
            { segmentId: 'other', from: null, to: 'realized' },
          ],
        }),
        mapping,
      ),
    ).toEqual([]);
    expect(triggersOf(change({ identitiesChanged: true }), mapping)).toEqual([
      'identity',
    ]);
    expect(
      triggersOf(change({ changedPaths: ['person.name.firstName'] }), mapping),
    ).toEqual(['attribute']);
    expect(
      triggersOf(change({ changedPaths: ['homeAddress.city'] }), mapping),
    ).toEqual([]);
    expect(triggersOf(change({ changedPaths: [] }), mapping)).toEqual([]);
  });

  it('matches attribute paths by prefix in both directions', () => {
    expect(pathTouches('person.name.firstName', 'person.name')).toBe(true);
    expect(pathTouches('person', 'person.name')).toBe(true);
    expect(pathTouches('person.nameSuffix', 'person.name')).toBe(false);
  });

  it('exports members and just-exited profiles only, with mandatory fields present', () => {
    const state = (
      status: 'realized' | 'existing' | 'exited',
    ): ProfileState => ({
      profileId: 'p',
      attributes: { person: { name: { firstName: 'A' } } },
      identityMap: {},
      memberships: {
        s1: { status, lastQualificationTime: new Date().toISOString() },
      },
    });
    expect(isEligible(state('realized'), mapping, new Set())).toBe(true);
    expect(isEligible(state('existing'), mapping, new Set())).toBe(true);
    expect(isEligible(state('exited'), mapping, new Set())).toBe(false);
    expect(isEligible(state('exited'), mapping, new Set(['s1']))).toBe(true);
    expect(
      isEligible(
        state('realized'),
        { ...mapping, mandatoryFields: ['personalEmail.address'] },
        new Set(),
      ),
    ).toBe(false);
    expect(
      isEligible({ ...state('realized'), memberships: {} }, mapping, new Set()),
    ).toBe(false);
  });
});

describe('isoSeconds', () => {
  it('cuts UTC times to seconds, with or without a fraction, and normalizes offsets', () => {
    expect(isoSeconds('2026-11-25T10:11:12.987Z')).toBe('2026-11-25T10:11:12Z');
    expect(isoSeconds('2026-11-25T10:11:12Z')).toBe('2026-11-25T10:11:12Z');
    expect(isoSeconds('2026-11-25T10:11:12.5+01:00')).toBe(
      '2026-11-25T09:11:12Z',
    );
  });
});
