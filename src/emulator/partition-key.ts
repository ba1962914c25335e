/**
 * The service's partition-key → partition mapping (Bob Jenkins' lookup3 `hashlittle2`, both seeds
 * 0, folded to int16). Keyed sends and the SDK's buffered producer (which maps keys client-side)
 * must agree, so this has to be bit-exact.
 */
export function partitionForKey(
  partitionKey: string,
  partitionCount: number,
): number {
  return Math.abs(hashPartitionKey(partitionKey) % partitionCount);
}

export function hashPartitionKey(partitionKey: string): number {
  const [b, c] = hashlittle2(Buffer.from(partitionKey, 'utf8'));
  return ((c ^ b) << 16) >> 16;
}

function rot(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Returns [b, c] of lookup3's hashlittle2 as signed 32-bit values. */
function hashlittle2(data: Buffer): [number, number] {
  let a = (0xdeadbeef + data.length) | 0;
  let b = a;
  let c = a;
  let i = 0;
  let left = data.length;
  while (left > 12) {
    a = (a + data.readInt32LE(i)) | 0;
    b = (b + data.readInt32LE(i + 4)) | 0;
    c = (c + data.readInt32LE(i + 8)) | 0;
    a = (a - c) | 0;
    a ^= rot(c, 4);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 6);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 8);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= rot(c, 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 19);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 4);
    b = (b + a) | 0;
    i += 12;
    left -= 12;
  }
  if (left === 0) return [b, c];
  // The tail is read as a zero-padded little-endian block, which is what lookup3's byte switch does.
  const tail = Buffer.alloc(12);
  data.copy(tail, 0, i);
  a = (a + tail.readInt32LE(0)) | 0;
  if (left > 4) b = (b + tail.readInt32LE(4)) | 0;
  if (left > 8) c = (c + tail.readInt32LE(8)) | 0;
  c ^= b;
  c = (c - rot(b, 14)) | 0;
  a ^= c;
  a = (a - rot(c, 11)) | 0;
  b ^= a;
  b = (b - rot(a, 25)) | 0;
  c ^= b;
  c = (c - rot(b, 16)) | 0;
  a ^= c;
  a = (a - rot(c, 4)) | 0;
  b ^= a;
  b = (b - rot(a, 14)) | 0;
  c ^= b;
  c = (c - rot(b, 24)) | 0;
  return [b, c];
}
