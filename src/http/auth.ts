// API key authentication. The tenant comes from the key, never from the request. Each route declares who
// may call it (`config.auth`) and the scope it needs (`config.scope`).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { findLiveKeyByHash, touchKey, type ApiKeyRow } from '../db/queries/api-keys.js';
import type { Db } from '../db/pool.js';
import { hashKey } from '../lib/api-keys.js';
import { ApiError } from './errors.js';

export const WORKSPACE_SCOPES = ['read', 'write', 'approve'] as const;
export type Scope = (typeof WORKSPACE_SCOPES)[number];

export type Principal =
  | { kind: 'operator'; keyId: string }
  | { kind: 'workspace'; keyId: string; workspaceId: string; scopes: ReadonlySet<Scope> };

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: 'workspace' | 'operator' | 'public';
    scope?: Scope;
  }
  interface FastifyRequest {
    principal?: Principal;
    /** Why a known key may not make this call; thrown after rate limiting (see installAuth). */
    denied?: ApiError;
  }
}

/** `write` and `approve` include `read`; `approve` (deciding on posts awaiting approval) is separate from `write`. */
export function normalizeScopes(scopes: readonly string[]): Scope[] {
  const set = new Set(scopes as Scope[]);
  if (set.has('write') || set.has('approve')) set.add('read');
  return WORKSPACE_SCOPES.filter((s) => set.has(s));
}

const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 10_000;
const TOUCH_EVERY_MS = 60_000;

/**
 * Looks keys up by hash with a short cache (a revocation made by this process applies at once; one made
 * by another API process within CACHE_TTL_MS).
 */
export function createKeyVerifier(db: Db) {
  const cache = new Map<string, { key: ApiKeyRow | undefined; until: number }>();
  const touched = new Map<string, number>();

  return {
    async verify(secret: string): Promise<ApiKeyRow | undefined> {
      const hash = hashKey(secret);
      const cacheKey = hash.toString('base64');
      const now = Date.now();
      const hit = cache.get(cacheKey);
      let key = hit && hit.until > now ? hit.key : undefined;
      if (!hit || hit.until <= now) {
        key = await findLiveKeyByHash(db, hash);
        if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
        cache.set(cacheKey, { key, until: now + CACHE_TTL_MS });
      }
      if (key && (touched.get(key.id) ?? 0) < now - TOUCH_EVERY_MS) {
        touched.set(key.id, now);
        touchKey(db, key.id).catch(() => undefined); // bookkeeping only; never fails a request
      }
      return key;
    },
    forget() {
      cache.clear();
    },
  };
}

export type KeyVerifier = ReturnType<typeof createKeyVerifier>;

function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

export function installAuth(app: FastifyInstance, verifier: KeyVerifier): void {
  app.addHook('onRequest', async (req) => {
    const mode = req.routeOptions.config?.auth;
    if (!mode || mode === 'public') return;
    const secret = bearer(req);
    if (!secret) throw new ApiError('UNAUTHENTICATED', 'send your API key as "Authorization: Bearer <key>"', [], { 'www-authenticate': 'Bearer' });
    const key = await verifier.verify(secret);
    if (!key) throw new ApiError('UNAUTHENTICATED', 'the API key is unknown or revoked', [], { 'www-authenticate': 'Bearer' });
    if (key.workspace_id === null) {
      req.principal = { kind: 'operator', keyId: key.id };
      if (mode !== 'operator') req.denied = new ApiError('FORBIDDEN', 'an operator key manages workspaces and keys; use a workspace key for this call');
      return;
    }
    const scopes = new Set(normalizeScopes(key.scopes));
    req.principal = { kind: 'workspace', keyId: key.id, workspaceId: key.workspace_id, scopes };
    if (mode !== 'workspace') {
      req.denied = new ApiError('FORBIDDEN', 'this call needs the operator key');
      return;
    }
    const needed = req.routeOptions.config.scope ?? 'read';
    if (!scopes.has(needed)) req.denied = new ApiError('FORBIDDEN', `this API key lacks the "${needed}" scope`);
  });
  // A known key's 403 waits until the rate limiter (a route-level onRequest hook, so it runs after this
  // file's) has counted the call: the 403 then carries the rate-limit headers like any answer to a key, and
  // refused calls use up the key's allowance. preParsing still runs before the body is read or any handler.
  app.addHook('preParsing', async (req) => {
    if (req.denied) throw req.denied;
  });
}

/** The workspace of the calling key (routes with `auth: 'workspace'` only). */
export function workspaceOf(req: FastifyRequest): string {
  const p = req.principal;
  if (p?.kind !== 'workspace') throw new ApiError('FORBIDDEN', 'this call needs a workspace key');
  return p.workspaceId;
}
