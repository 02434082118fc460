// Prefixed, time-sortable ids (TypeID: a prefix plus a base32 UUIDv7), readable in logs and support tickets.
import { TypeID, typeid } from 'typeid-js';

export const ID_PREFIXES = {
  workspace: 'ws',
  apiKey: 'key',
  account: 'acct',
  post: 'post',
  publication: 'pub',
  attempt: 'att',
  event: 'evt',
  request: 'req',
  worker: 'wrk',
  media: 'med',
  connection: 'conn',
  oauthApp: 'app',
  webhook: 'wh',
  queue: 'que',
  reviewLink: 'rvw',
  providerKey: 'pkey',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

export function newId(kind: IdKind): string {
  return typeid(ID_PREFIXES[kind]).toString();
}

/** True when `value` is a well-formed id of that kind (used to answer 404 early for garbage ids). */
export function isId(kind: IdKind, value: string): boolean {
  try {
    return TypeID.fromString(value).getType() === ID_PREFIXES[kind];
  } catch {
    return false;
  }
}

/** Milliseconds since the epoch encoded in a TypeID (UUIDv7 timestamp). */
export function idTimestampMs(value: string): number {
  const hex = TypeID.fromString(value).toUUID().replace(/-/g, '').slice(0, 12);
  return Number.parseInt(hex, 16);
}
