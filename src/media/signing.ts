// Signed, expiring URLs for Crier's own media endpoints: the upload target of the local store, and the
// URLs platforms that pull media (Instagram, Threads…) fetch from. HMAC keys are derived from the
// encryption keyring, so nothing new needs configuring and every configured key still verifies after
// a rotation.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { KeyRing } from '../lib/crypto.js';

export type SignedPurpose = 'upload' | 'download';

export type UrlSigner = {
  /** Query string `exp=…&kid=…&sig=…` granting `purpose` on (mediaId, variant) until `expiresAt`. */
  sign(purpose: SignedPurpose, mediaId: string, variant: string, expiresAt: Date): string;
  /** True when the signature is valid for this resource and not expired at `now`. */
  verify(purpose: SignedPurpose, mediaId: string, variant: string, q: { exp?: string; kid?: string; sig?: string }, now: Date): boolean;
};

export function createUrlSigner(ring: KeyRing): UrlSigner {
  const macKeys = new Map<string, Buffer>();
  for (const [id, key] of ring.keys) macKeys.set(id, Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'crier media url signing v1', 32)));
  const mac = (key: Buffer, purpose: string, mediaId: string, variant: string, exp: string) =>
    createHmac('sha256', key).update(`${purpose}\n${mediaId}\n${variant}\n${exp}`).digest('base64url');
  return {
    sign(purpose, mediaId, variant, expiresAt) {
      const exp = String(Math.floor(expiresAt.getTime() / 1000));
      const sig = mac(macKeys.get(ring.primaryId)!, purpose, mediaId, variant, exp);
      return `exp=${exp}&kid=${encodeURIComponent(ring.primaryId)}&sig=${sig}`;
    },
    verify(purpose, mediaId, variant, q, now) {
      if (!q.exp || !q.kid || !q.sig || !/^\d{1,12}$/.test(q.exp)) return false;
      if (Number(q.exp) * 1000 < now.getTime()) return false;
      const key = macKeys.get(q.kid);
      if (!key) return false;
      const expected = Buffer.from(mac(key, purpose, mediaId, variant, q.exp));
      const given = Buffer.from(q.sig);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}
