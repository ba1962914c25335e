import { describe, expect, it } from 'vitest';
import {
  bumpContentVersions,
  contentFacets,
  contentVersionFor,
} from './content-versions.js';

const flow = contentFacets(['loyalty.points'], ['gold']);

describe('content versions', () => {
  it('moves only the facets a write changed, past every earlier value', () => {
    const created = bumpContentVersions(
      {},
      {
        changedPaths: ['loyalty.points', 'person.name.firstName'],
        identitiesChanged: true,
        segmentIds: ['gold'],
      },
    );
    expect(created).toEqual({
      'a:loyalty': 1,
      'a:person': 1,
      i: 1,
      's:gold': 1,
    });
    const unmapped = bumpContentVersions(created, {
      changedPaths: ['person.name.firstName'],
      identitiesChanged: false,
      segmentIds: ['silver'],
    });
    expect(unmapped).toEqual({ ...created, 'a:person': 2, 's:silver': 2 });
    expect(contentVersionFor(unmapped, flow)).toBe(1);
    const mapped = bumpContentVersions(unmapped, {
      changedPaths: ['loyalty.points'],
      identitiesChanged: false,
      segmentIds: [],
    });
    expect(contentVersionFor(mapped, flow)).toBe(3);
  });

  it('leaves the versions as they were when nothing changed (a realized → existing step)', () => {
    const stored = { i: 4 };
    expect(
      bumpContentVersions(stored, {
        changedPaths: [],
        identitiesChanged: false,
        segmentIds: [],
      }),
    ).toBe(stored);
  });

  it('names one facet per top-level key, whatever the order of the paths', () => {
    expect(
      bumpContentVersions(
        { 'a:ab': 7 },
        {
          changedPaths: ['a.x', 'a', 'ab.y', 'a.z', 'abc', 'b.c.d', 'b'],
          identitiesChanged: false,
          segmentIds: [],
        },
      ),
    ).toEqual({ 'a:a': 8, 'a:ab': 8, 'a:abc': 8, 'a:b': 8 });
  });

  it('counts the identity map for every flow and a profile without versions as 0', () => {
    expect(contentVersionFor({ i: 3, 'a:x': 9 }, flow)).toBe(3);
    expect(contentVersionFor({}, flow)).toBe(0);
  });
});
