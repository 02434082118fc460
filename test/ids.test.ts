// TypeIDs: the timestamp read straight from the suffix equals the one from a full parse of the UUIDv7.
import { TypeID } from 'typeid-js';
import { describe, expect, it } from 'vitest';
import { idTimestampMs, newId } from '../src/lib/ids.js';

describe('ids', () => {
  it('reads the UUIDv7 timestamp from the suffix, for every kind of id', () => {
    for (let i = 0; i < 2_000; i++) {
      const id = newId(i % 3 === 0 ? 'publication' : i % 3 === 1 ? 'reviewLink' : 'providerKey');
      const parsed = Number.parseInt(TypeID.fromString(id).toUUID().replace(/-/g, '').slice(0, 12), 16);
      expect(idTimestampMs(id)).toBe(parsed);
    }
    const before = Date.now();
    const ms = idTimestampMs(newId('post'));
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now());
  });

  it('refuses what is not a TypeID', () => {
    expect(() => idTimestampMs('pub_short')).toThrow(/not a TypeID/);
    expect(() => idTimestampMs('pub_01jd8x3k2nfq8t6y9w4z5v7b1u')).toThrow(/not a TypeID/); // 'u' is not Crockford base32
  });
});
