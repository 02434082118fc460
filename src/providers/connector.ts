// An account connected on an aggregator provider publishes through a connector made of routes: the
// workspace's provider keys in its order, then the operator's (platforms.md §12 "Failover order"). The
// worker's machinery (checkpoints, Pending, read-back, retries) applies unchanged, so the rules are:
// - a route is tried only after the previous one failed definitely (an error answer, a refused connection);
// - before each create the route is checkpointed as `sending`; an ambiguous failure (timeout after sending)
//   stops there, and the next attempt reads that provider back (findExisting) before any other route;
// - once a route accepted the post it is followed to its result there and never sent elsewhere;
// - the platform refusing the post (relayed by the provider) is final: another route would post the same.
import { Type } from 'typebox';
import type { ConnectorCtx, ConnectorError, PlatformConnector, PlatformId, PublicationDraft, Published, Pending } from '../connectors/types.js';
import { getConnector } from '../connectors/registry.js';
import { err, ok, type Result } from '../lib/result.js';
import { late } from './late.js';
import { postForMe } from './postforme.js';
import { routeKey, routeTitle, type NewProviderPost, type ProviderAccount, type ProviderCall, type ProviderClient, type ProviderName, type ProviderResult, type ProviderRoute } from './types.js';

export const PROVIDER_CLIENTS: Record<ProviderName, ProviderClient> = { postforme: postForMe, late };

/** What a provider account's credentials hold: where it was found (not a secret, but stored like one). */
export type ProviderCredentials = { provider: ProviderName; accountId: string; platform: PlatformId; username: string; profileId?: string };

type RouteState = { state: 'sending' | 'accepted' | 'failed'; since?: string; postId?: string; accountId?: string; reason?: string; transient?: boolean };
type Routes = Record<string, RouteState>;

/** Providers report results within seconds to minutes; the worker waits at least a second anyway. */
const CHECK_AFTER_MS = 2_000;

export function providerOf(route: string): ProviderName | undefined {
  return route === 'provider:postforme' ? 'postforme' : route === 'provider:late' ? 'late' : undefined;
}

export function providerConnector(platform: PlatformId, routes: ProviderRoute[]): PlatformConnector<ProviderCredentials> {
  const direct = getConnector(platform);
  return {
    id: platform,
    limits: direct?.limits ?? { text: { maxLength: 100_000, counting: 'characters' } },
    optionsSchema: direct?.optionsSchema ?? Type.Object({}, { additionalProperties: false }),
    validate: (d) => direct?.validate(d) ?? [],
    publish: (ctx, draft) => publish(ctx, draft, routes),
    checkStatus: (ctx, draft, ref) => checkStatus(ctx, draft, ref, routes),
    findExisting: (ctx, draft) => findExisting(ctx, draft, routes),
  };
}

const callFor = (ctx: ConnectorCtx<unknown>, route: ProviderRoute): ProviderCall => ({ route, signal: ctx.signal, clock: ctx.clock, log: ctx.log });
const routesOf = (draft: PublicationDraft): Routes => ({ ...((draft.checkpoint?.['routes'] as Routes | undefined) ?? {}) });

async function save(ctx: ConnectorCtx<unknown>, draft: PublicationDraft, routes: Routes) {
  await ctx.checkpoint({ routes });
  draft.checkpoint = { routes };
}

/** The account as this route's provider knows it: the stored id on its own route, else found by platform and username. */
async function accountOn(ctx: ConnectorCtx<ProviderCredentials>, route: ProviderRoute): Promise<Result<ProviderAccount | null, ConnectorError>> {
  const c = ctx.credentials;
  if (route.provider === c.provider && route.source === 'workspace') return ok({ id: c.accountId, platform: c.platform, username: c.username, profileId: c.profileId });
  const listed = await PROVIDER_CLIENTS[route.provider].listAccounts(callFor(ctx, route));
  if (!listed.ok) return listed;
  return ok(listed.value.find((a) => a.platform === c.platform && a.username.toLowerCase() === c.username.toLowerCase()) ?? null);
}

function published(route: ProviderRoute, r: Extract<ProviderResult, { state: 'published' }>): Published {
  return { platformPostId: r.platformPostId, url: r.url, via: routeKey(route) };
}

function pending(route: ProviderRoute, postId: string, accountId: string): Pending {
  return { pending: { ref: { route: routeKey(route), postId, accountId }, checkAfterMs: CHECK_AFTER_MS, note: `waiting for ${routeTitle(route)} to report the result` } };
}

function outcome(route: ProviderRoute, postId: string, accountId: string, r: ProviderResult): Result<Published | Pending, ConnectorError> {
  if (r.state === 'published') return ok(published(route, r));
  if (r.state === 'failed') return err(r.error);
  return ok(pending(route, postId, accountId));
}

async function publish(ctx: ConnectorCtx<ProviderCredentials>, draft: PublicationDraft, all: ProviderRoute[]): Promise<Result<Published | Pending, ConnectorError>> {
  if (all.length === 0) {
    return err({ category: 'permanent', code: 'PROVIDER_NOT_CONFIGURED', message: `this ${ctx.credentials.platform} account publishes through a provider, and no provider key is configured: add one with PUT /v1/providers/{provider} (or the operator sets POSTFORME_API_KEY / LATE_API_KEY)`, retryable: false });
  }
  const routes = routesOf(draft);
  // A route that accepted the post is followed there; one that may have is read back first.
  for (const route of all) {
    const s = routes[routeKey(route)];
    if (s?.state === 'accepted') return ok(pending(route, s.postId!, s.accountId!));
  }
  const unsettled = await settleAmbiguous(ctx, draft, all);
  if (!unsettled.ok || unsettled.value) return unsettled.ok ? ok(unsettled.value!) : unsettled;
  Object.assign(routes, routesOf(draft));

  const errors: ConnectorError[] = [];
  for (const route of all) {
    const key = routeKey(route);
    if (routes[key]?.state === 'failed') continue;
    const tried = await tryRoute(ctx, draft, route, routes);
    // Final: success, an answer lost (read back next), a duplicate, or the platform's own refusal of a post
    // the route accepted (another route would post the same thing).
    if (tried.ok || tried.error.outcomeUnknown || tried.error.category === 'duplicate' || routes[key]?.state === 'accepted') return tried;
    routes[key] = { state: 'failed', reason: `${tried.error.code}: ${tried.error.message}`, transient: tried.error.retryable };
    errors.push(tried.error);
    await save(ctx, draft, routes);
    ctx.log.warn({ route: key, code: tried.error.code }, 'provider route failed; trying the next');
  }
  const failed = all.map((r) => `${routeTitle(r)}: ${routes[routeKey(r)]?.reason ?? 'not tried'}`);
  // The next attempt starts the order again (a provider's outage may be over by then).
  await save(ctx, draft, {});
  return err(allFailed(errors, all.some((r) => routes[routeKey(r)]?.transient), `every route failed: ${failed.join('; ')}`));
}

/**
 * One error for a publication whose every route failed. When they all failed the same way (every route
 * rate-limited, or unreachable) that is the error, with the shortest wait; otherwise PROVIDERS_FAILED.
 */
function allFailed(errors: ConnectorError[], transient: boolean, message: string): ConnectorError {
  const first = errors[0];
  if (first && errors.every((e) => e.code === first.code && e.category === first.category)) {
    const waits = errors.map((e) => e.retryAfterMs).filter((w): w is number => w !== undefined);
    return { category: first.category, code: first.code, message, retryable: first.retryable, ...(waits.length ? { retryAfterMs: Math.min(...waits) } : {}), ...(errors.length === 1 && first.platformCode ? { platformCode: first.platformCode } : {}) };
  }
  return { category: transient ? 'transient' : 'permanent', code: 'PROVIDERS_FAILED', message, retryable: transient };
}

async function tryRoute(ctx: ConnectorCtx<ProviderCredentials>, draft: PublicationDraft, route: ProviderRoute, routes: Routes): Promise<Result<Published | Pending, ConnectorError>> {
  const client = PROVIDER_CLIENTS[route.provider];
  const call = callFor(ctx, route);
  const account = await accountOn(ctx, route);
  if (!account.ok) return account;
  if (!account.value) return err({ category: 'permanent', code: 'PLATFORM_ERROR', message: `@${ctx.credentials.username} on ${ctx.credentials.platform} is not connected there`, retryable: false });
  const media: NewProviderPost['media'] = [];
  for (const m of draft.media) {
    const url = await client.uploadMedia(call, m);
    if (!url.ok) return url;
    media.push({ url: url.value, kind: m.kind });
  }
  const post: NewProviderPost = { account: account.value, text: draft.text, media, marker: draft.marker };
  const key = routeKey(route);
  routes[key] = { state: 'sending', since: ctx.clock.now().toISOString(), accountId: account.value.id };
  await save(ctx, draft, routes);
  const created = await client.createPost(call, post);
  if (!created.ok) return created;
  routes[key] = { state: 'accepted', postId: created.value.postId, accountId: account.value.id };
  await save(ctx, draft, routes);
  const result = created.value.result ?? { state: 'pending' };
  return outcome(route, created.value.postId, account.value.id, result);
}

/**
 * Routes left `sending` by an attempt whose answer was lost: each is read back on its provider. Found: the
 * route accepted it (followed from now on; published already if its result says so). Not found: it never
 * arrived, and the order goes on. A failed read-back is returned as it is: nothing else may be tried.
 */
async function settleAmbiguous(ctx: ConnectorCtx<ProviderCredentials>, draft: PublicationDraft, all: ProviderRoute[]): Promise<Result<Published | Pending | null, ConnectorError>> {
  const routes = routesOf(draft);
  for (const route of all) {
    const key = routeKey(route);
    const s = routes[key];
    if (s?.state !== 'sending') continue;
    const client = PROVIDER_CLIENTS[route.provider];
    const account: ProviderAccount = { id: s.accountId!, platform: ctx.credentials.platform, username: ctx.credentials.username, profileId: ctx.credentials.profileId };
    const post: NewProviderPost = { account, text: draft.text, media: [], marker: draft.marker };
    const found = await client.findPost(callFor(ctx, route), post, new Date(s.since ?? 0));
    if (!found.ok) return err({ ...found.error, message: `reading back ${routeTitle(route)} after an unanswered attempt: ${found.error.message}` });
    if (!found.value) {
      routes[key] = { state: 'failed', reason: 'an earlier attempt got no answer and the provider has no such post', transient: true };
      await save(ctx, draft, routes);
      continue;
    }
    routes[key] = { state: 'accepted', postId: found.value, accountId: s.accountId };
    await save(ctx, draft, routes);
    const result = await client.postResult(callFor(ctx, route), found.value, account);
    if (!result.ok) return ok(pending(route, found.value, s.accountId!));
    const r = outcome(route, found.value, s.accountId!, result.value);
    return r.ok ? ok(r.value) : r;
  }
  return ok(null);
}

async function findExisting(ctx: ConnectorCtx<ProviderCredentials>, draft: PublicationDraft, all: ProviderRoute[]): Promise<Result<Published | null, ConnectorError>> {
  const settled = await settleAmbiguous(ctx, draft, all);
  if (!settled.ok) return settled;
  if (settled.value) return ok('pending' in settled.value ? null : settled.value);
  // A route that accepted it: published there already? (Pending is not "published": publish() follows it.)
  const routes = routesOf(draft);
  for (const route of all) {
    const s = routes[routeKey(route)];
    if (s?.state !== 'accepted') continue;
    const got = await checkStatus(ctx, draft, { route: routeKey(route), postId: s.postId, accountId: s.accountId }, all);
    if (!got.ok) return got.error.category === 'transient' ? got : ok(null);
    return ok('pending' in got.value ? null : got.value);
  }
  return ok(null);
}

async function checkStatus(ctx: ConnectorCtx<ProviderCredentials>, _draft: PublicationDraft, ref: Record<string, unknown>, all: ProviderRoute[]): Promise<Result<Published | Pending, ConnectorError>> {
  const route = all.find((r) => routeKey(r) === ref['route']);
  if (!route) return err({ category: 'permanent', code: 'PROVIDER_NOT_CONFIGURED', message: `the ${String(ref['route'])} key was removed while the post was processing there; its outcome is on that provider (post ${String(ref['postId'])})`, retryable: false });
  const c = ctx.credentials;
  const account: ProviderAccount = { id: String(ref['accountId']), platform: c.platform, username: c.username, profileId: c.profileId };
  const result = await PROVIDER_CLIENTS[route.provider].postResult(callFor(ctx, route), String(ref['postId']), account);
  if (!result.ok) return result;
  return outcome(route, String(ref['postId']), account.id, result.value);
}
