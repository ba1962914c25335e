import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { hashPartitionKey, partitionForKey } from './partition-key.js';

interface SdkMapper {
  mapPartitionKeyToId(key: string, count: number): number;
  hashPartitionKey(key: string): number;
}

// The package's `exports` block deep imports, so the SDK's own copy is loaded by file path.
async function loadSdkMapper(): Promise<SdkMapper> {
  const entry = createRequire(import.meta.url).resolve('@azure/event-hubs');
  const root = dirname(dirname(entry));
  const file = join(root, 'esm', 'impl', 'partitionKeyToIdMapper.js');
  return (await import(pathToFileURL(file).href)) as SdkMapper;
}

describe('partition-key hash', () => {
  let sdk: SdkMapper;
  beforeAll(async () => {
    sdk = await loadSdkMapper();
  });

  it('agrees with the SDK on edge lengths', () => {
    for (let len = 0; len <= 40; len++) {
      const key = 'k'.repeat(len);
      expect(hashPartitionKey(key)).toBe(sdk.hashPartitionKey(key));
    }
  });

  it('agrees with the SDK on 30,000 random keys and partition counts', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 64 }),
        fc.integer({ min: 1, max: 32 }),
        (key, count) => {
          expect(partitionForKey(key, count)).toBe(
            sdk.mapPartitionKeyToId(key, count),
          );
        },
      ),
      { numRuns: 30_000 },
    );
  });
});
