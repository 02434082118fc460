// API key secrets: 256 random bits in base62 (double-click selects the whole key), with a prefix that
// says what the key is. Only the SHA-256 is stored.
import { randomBytes } from 'node:crypto';
import { sha256 } from './hash.js';

export const WORKSPACE_KEY_PREFIX = 'crier_sk_';
export const OPERATOR_KEY_PREFIX = 'crier_admin_';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(chars: number): string {
  let out = '';
  while (out.length < chars) {
    for (const byte of randomBytes(chars * 2)) {
      if (byte < 248 && out.length < chars) out += BASE62[byte % 62]; // 248 = 4·62: no modulo bias
    }
  }
  return out;
}

export function generateKeySecret(prefix: string): string {
  return `${prefix}${base62(43)}`; // 43 base62 chars ≈ 256 bits
}

export function hashKey(secret: string): Buffer {
  return sha256(secret);
}

export function displayHint(secret: string): string {
  const prefix = secret.startsWith(OPERATOR_KEY_PREFIX) ? OPERATOR_KEY_PREFIX : WORKSPACE_KEY_PREFIX;
  return `${prefix}…${secret.slice(-4)}`;
}
