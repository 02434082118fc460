// Connecting a Bluesky account with an app password (Settings → App passwords): createSession on the
// account's PDS. The app password is kept (encrypted with the rest of the credentials) so that an expired
// refresh token can be replaced by a fresh session instead of asking the user to connect again.
// Where the account lives: Crier signs in at the configured host (https://bsky.social, an entryway that
// knows every account Bluesky hosts) and then talks to the PDS named in the session's DID document, as the
// docs ask. An account on another PDS is not known there: its handle is resolved to a DID, the DID document
// read (PLC directory or did:web), and the sign-in made at its own PDS. A PDS address is taken only when it
// is https and public (the SSRF guard's rules): a DID document is written by whoever owns the account, and
// the worker would otherwise send requests wherever it points.
import dns from 'node:dns/promises';
import { addressProblem, checkUrl, type UrlPolicy } from '../../lib/ssrf.js';
import { err, ok, type Result } from '../../lib/result.js';
import type { AuthCtx, ConnectableAccount, PasswordAuth } from '../auth-types.js';
import type { ConnectorError } from '../types.js';
import * as client from './client.js';
import { mapXrpcError } from './errors.js';
import { guardedGet, urlPolicyFromEnv } from './guarded-get.js';
import type { BlueskyCredentials } from './session.js';

export const PLC_DIRECTORY = 'https://plc.directory';
type LoginCtx = Omit<AuthCtx, 'app'>;

/** The #atproto_pds service endpoint of a DID document, if it has one. */
export function pdsOfDidDoc(doc: unknown): string | undefined {
  const services = (doc as { service?: unknown } | null)?.service;
  if (!Array.isArray(services)) return undefined;
  const pds = services.find((s) => (s as { id?: unknown })?.id === '#atproto_pds' || String((s as { id?: unknown })?.id).endsWith('#atproto_pds'));
  const endpoint = (pds as { serviceEndpoint?: unknown } | undefined)?.serviceEndpoint;
  return typeof endpoint === 'string' ? endpoint : undefined;
}

/** The PDS origin when Crier may call it (https and public, unless the policy allows private hosts). */
export async function safePdsUrl(endpoint: string, policy: UrlPolicy): Promise<string | undefined> {
  try {
    const url = checkUrl(endpoint, policy);
    if (url.protocol !== 'https:' && !policy.allowPrivate) return undefined;
    if (!policy.allowPrivate && !policy.allowHosts?.includes(url.host)) {
      const addresses = await dns.lookup(url.hostname.replace(/^\[|\]$/g, ''), { all: true });
      if (addresses.length === 0 || addresses.some((a) => addressProblem(a.address))) return undefined;
    }
    return url.origin;
  } catch {
    return undefined;
  }
}

/** A DID's PDS from its DID document: did:plc from the PLC directory, did:web from its host. */
export async function resolvePdsEndpoint(did: string, opts: { plcUrl?: string; policy: UrlPolicy; signal: AbortSignal }): Promise<string | undefined> {
  let docUrl: string;
  if (/^did:plc:[a-z2-7]{24}$/.test(did)) docUrl = `${(opts.plcUrl ?? PLC_DIRECTORY).replace(/\/$/, '')}/${did}`;
  else if (/^did:web:[a-zA-Z0-9.-]+$/.test(did)) docUrl = `https://${did.slice('did:web:'.length)}/.well-known/did.json`;
  else return undefined;
  const doc = await guardedGet(docUrl, { policy: opts.policy, maxBytes: 100_000, signal: opts.signal, accept: 'application/json' });
  const endpoint = pdsOfDidDoc(JSON.parse(doc.body.toString('utf8')));
  return endpoint ? safePdsUrl(endpoint, opts.policy) : undefined;
}

async function signIn(base: string, identifier: string, password: string, ctx: LoginCtx): Promise<Result<client.BlueskySession, ConnectorError>> {
  const sent = await client.createSession(base, identifier, password, ctx.signal);
  if (!sent.ok) return sent;
  if (sent.value.status !== 200) return err(mapXrpcError(sent.value, ctx.clock.now()));
  return ok(sent.value.body as client.BlueskySession);
}

/** An account not known where Crier signed in: its own PDS, found from its handle or DID. */
async function ownPds(ctx: LoginCtx, identifier: string, policy: UrlPolicy): Promise<string | undefined> {
  let did = identifier;
  if (!identifier.startsWith('did:')) {
    const res = await client.resolveHandle(ctx.baseUrl, identifier, ctx.signal);
    did = res.ok && res.value.status === 200 ? String((res.value.body as { did?: unknown }).did) : '';
  }
  if (!did.startsWith('did:')) return undefined;
  const endpoint = await resolvePdsEndpoint(did, { policy, signal: ctx.signal }).catch(() => undefined);
  return endpoint && endpoint !== new URL(ctx.baseUrl).origin ? endpoint : undefined;
}

export const blueskyAuth: PasswordAuth<BlueskyCredentials> = {
  kind: 'password',
  async login(ctx, rawIdentifier, password) {
    const identifier = rawIdentifier.trim().replace(/^@/, '');
    const policy = urlPolicyFromEnv();
    let pdsUrl: string | undefined;
    let session = await signIn(ctx.baseUrl, identifier, password, ctx);
    if (!session.ok && !ctx.sandbox && session.error.platformCode === 'AuthenticationRequired' && !identifier.includes('@')) {
      const own = await ownPds(ctx, identifier, policy);
      if (own) {
        const there = await signIn(own, identifier, password, ctx);
        if (there.ok) [session, pdsUrl] = [there, own];
      }
    }
    if (!session.ok) return session;
    const s = session.value;
    if (!ctx.sandbox && !pdsUrl) {
      const named = pdsOfDidDoc(s.didDoc);
      const safe = named ? await safePdsUrl(named, policy) : undefined;
      if (safe && safe !== new URL(ctx.baseUrl).origin) pdsUrl = safe;
    }
    const account: ConnectableAccount<BlueskyCredentials> = {
      externalId: s.did,
      username: s.handle,
      displayName: s.handle,
      kind: 'user',
      credentials: { did: s.did, handle: s.handle, accessJwt: s.accessJwt, refreshJwt: s.refreshJwt, appPassword: password, ...(pdsUrl ? { pdsUrl } : {}) },
    };
    return ok(account);
  },
};
