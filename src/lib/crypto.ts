// Secrets at rest (OAuth tokens, platform credentials): AES-256-GCM with the key id stored beside each
// ciphertext, so keys can rotate: the first key encrypts, every configured key decrypts.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type KeyRing = { primaryId: string; keys: Map<string, Buffer> };

export class DecryptionError extends Error {}

/** Parses `id:base64key,id2:base64key2`; each key must decode to 32 bytes. */
export function parseKeyRing(spec: string): KeyRing {
  const keys = new Map<string, Buffer>();
  let primaryId = '';
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const sep = part.indexOf(':');
    if (sep <= 0) throw new Error('encryption key entries look like "<id>:<base64 of 32 bytes>"');
    const id = part.slice(0, sep);
    const key = Buffer.from(part.slice(sep + 1), 'base64');
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(id)) throw new Error(`encryption key id "${id}" must be 1-32 of [A-Za-z0-9_.-]`);
    if (key.length !== 32) throw new Error(`encryption key "${id}" must be 32 bytes (base64), got ${key.length}`);
    if (keys.has(id)) throw new Error(`encryption key id "${id}" appears twice`);
    keys.set(id, key);
    if (!primaryId) primaryId = id;
  }
  if (!primaryId) throw new Error('no encryption key configured');
  return { primaryId, keys };
}

export function generateKeySpec(id = `k${Date.now().toString(36)}`): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

export function encrypt(ring: KeyRing, plaintext: Buffer, aad = ''): Buffer {
  const key = ring.keys.get(ring.primaryId)!;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const id = Buffer.from(ring.primaryId);
  return Buffer.concat([Buffer.from([VERSION, id.length]), id, iv, cipher.getAuthTag(), body]);
}

export function decrypt(ring: KeyRing, envelope: Buffer, aad = ''): Buffer {
  if (envelope.length < 2 || envelope[0] !== VERSION) throw new DecryptionError('unknown ciphertext format');
  const idLen = envelope[1]!;
  const id = envelope.subarray(2, 2 + idLen).toString();
  const key = ring.keys.get(id);
  if (!key) throw new DecryptionError(`ciphertext uses key "${id}", which is not configured`);
  let at = 2 + idLen;
  const iv = envelope.subarray(at, (at += IV_BYTES));
  const tag = envelope.subarray(at, (at += TAG_BYTES));
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(envelope.subarray(at)), decipher.final()]);
  } catch {
    throw new DecryptionError(`ciphertext does not authenticate with key "${id}"`);
  }
}

export function keyIdOf(envelope: Buffer): string {
  return envelope.subarray(2, 2 + envelope[1]!).toString();
}

/** JSON convenience: the AAD binds a ciphertext to its row so it cannot be pasted onto another one. */
export function sealJson(ring: KeyRing, value: unknown, aad: string): Buffer {
  return encrypt(ring, Buffer.from(JSON.stringify(value)), aad);
}

export function openJson<T>(ring: KeyRing, envelope: Buffer, aad: string): T {
  return JSON.parse(decrypt(ring, envelope, aad).toString()) as T;
}
