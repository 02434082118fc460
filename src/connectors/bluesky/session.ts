// A Bluesky account's session: the access JWT lasts about two hours and the refresh JWT rotates on every
// use (platforms.md §9, "Auth"), so a call that meets ExpiredToken refreshes once, saves the new pair before
// anything else can fail, and retries. An expired refresh JWT (90 days) is replaced by a new session from
// the kept app password rather than asking the user to connect again.
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError } from '../types.js';
import * as client from './client.js';
import { isExpiredToken, mapXrpcError } from './errors.js';

export type BlueskyCredentials = Omit<client.BlueskySession, 'didDoc'> & {
  appPassword?: string;
  /** The account's own PDS (from its DID document) when it is not where Crier signed in; https only. */
  pdsUrl?: string;
};

/** Where this account's XRPC calls go: its PDS for real accounts, the simulator for sandbox ones. */
export function apiBase(ctx: ConnectorCtx<BlueskyCredentials>): string {
  return !ctx.sandbox && ctx.credentials.pdsUrl ? ctx.credentials.pdsUrl : ctx.baseUrl;
}

/** Runs `call` with the access token, refreshing (and persisting the rotated pair) once if it expired. */
export async function withSession(
  ctx: ConnectorCtx<BlueskyCredentials>,
  call: (accessJwt: string) => Promise<Result<HttpResponse, ConnectorError>>,
): Promise<Result<HttpResponse, ConnectorError>> {
  const first = await call(ctx.credentials.accessJwt);
  if (!first.ok || !isExpiredToken(first.value)) return first;
  const renewed = await renewSession(ctx);
  if (!renewed.ok) return renewed;
  return call(renewed.value.accessJwt);
}

async function renewSession(ctx: ConnectorCtx<BlueskyCredentials>): Promise<Result<BlueskyCredentials, ConnectorError>> {
  const now = ctx.clock.now();
  const base = apiBase(ctx);
  const refreshed = await client.refreshSession(base, ctx.credentials.refreshJwt, ctx.signal);
  if (!refreshed.ok) return err({ ...refreshed.error, outcomeUnknown: false });
  let res = refreshed.value;
  if (res.status !== 200 && isExpiredToken(res) && ctx.credentials.appPassword) {
    const created = await client.createSession(base, ctx.credentials.did, ctx.credentials.appPassword, ctx.signal);
    if (!created.ok) return err({ ...created.error, outcomeUnknown: false });
    res = created.value;
  }
  if (res.status !== 200) return err(mapXrpcError(res, now));
  const session = res.body as client.BlueskySession;
  const next: BlueskyCredentials = { ...ctx.credentials, accessJwt: session.accessJwt, refreshJwt: session.refreshJwt, handle: session.handle ?? ctx.credentials.handle };
  // The old refresh token is spent: store the new pair before anything else can fail.
  await ctx.saveCredentials(next);
  ctx.credentials = next;
  return ok(next);
}
