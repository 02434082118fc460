// AT Protocol record keys for posts are TIDs: 53 bits of microseconds since the epoch and a 10-bit clock
// id, in sortable base32. Deriving the TID from the publication id makes every attempt of a publication
// write the same record key, so a retry can never create a second post and a read-back knows where to look.
import { createHash } from 'node:crypto';
import { idTimestampMs } from '../../lib/ids.js';

const ALPHABET = '234567abcdefghijklmnopqrstuvwxyz';
export const TID_PATTERN = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/;

export function encodeTid(micros: bigint, clockId: number): string {
  let v = (micros << 10n) | BigInt(clockId & 0x3ff);
  let out = '';
  for (let i = 0; i < 13; i++) {
    out = ALPHABET[Number(v & 31n)] + out;
    v >>= 5n;
  }
  return out;
}

/**
 * The record key of a publication's post, and of each follow-up post of its thread (`item` 1, 2, …: the
 * same instant plus `item` microseconds, so the keys sort in thread order).
 */
export function tidForPublication(publicationId: string, item = 0): string {
  const digest = createHash('sha256').update(publicationId).digest();
  const subMillis = BigInt(digest.readUInt16BE(0) % 1000);
  const micros = BigInt(idTimestampMs(publicationId)) * 1000n + subMillis + BigInt(item);
  return encodeTid(micros, digest.readUInt16BE(2));
}
