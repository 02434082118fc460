// Secrets at rest: AES-256-GCM envelopes with the key id beside each ciphertext.
import { describe, expect, it } from 'vitest';
import { decrypt, encrypt, generateKeySpec, keyIdOf, openJson, parseKeyRing, sealJson } from '../src/lib/crypto.js';

describe('encryption of secrets at rest', () => {
  const old = generateKeySpec('old');
  const next = generateKeySpec('new');

  it('round-trips and never contains the plaintext', () => {
    const ring = parseKeyRing(old);
    const sealed = sealJson(ring, { token: 'super-secret-token' }, 'account:1');
    expect(sealed.toString('latin1')).not.toContain('super-secret-token');
    expect(openJson(ring, sealed, 'account:1')).toEqual({ token: 'super-secret-token' });
    expect(keyIdOf(sealed)).toBe('old');
  });

  it('encrypts with the first key and still decrypts with the older ones', () => {
    const before = encrypt(parseKeyRing(old), Buffer.from('x'));
    const rotated = parseKeyRing(`${next},${old}`);
    expect(decrypt(rotated, before).toString()).toBe('x');
    expect(keyIdOf(encrypt(rotated, Buffer.from('y')))).toBe('new');
  });

  it('refuses a ciphertext moved to another row, altered, or under an unknown key', () => {
    const ring = parseKeyRing(old);
    const sealed = sealJson(ring, { a: 1 }, 'account:1');
    expect(() => openJson(ring, sealed, 'account:2')).toThrow(/does not authenticate/);
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => openJson(ring, tampered, 'account:1')).toThrow(/does not authenticate/);
    expect(() => decrypt(parseKeyRing(next), sealed, 'account:1')).toThrow(/key "old", which is not configured/);
  });

  it('validates key specs', () => {
    expect(() => parseKeyRing('')).toThrow(/no encryption key/);
    expect(() => parseKeyRing('k1:dG9vLXNob3J0')).toThrow(/32 bytes/);
    expect(() => parseKeyRing(`${old},${old}`)).toThrow(/appears twice/);
    expect(() => parseKeyRing('no-colon')).toThrow(/look like/);
  });
});
