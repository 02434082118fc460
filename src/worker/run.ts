// One attempt of one publication: read back first when an earlier attempt may have reached the platform,
// then publish, then classify the result into what happens next. Decides; writes nothing itself.
import type { AppContext } from '../context.js';
import { PLATFORM_BASE_URLS, getConnector } from '../connectors/registry.js';
import { isPending, type ConnectorCtx, type ConnectorError, type DraftMedia, type Pending, type PlatformConnector, type PublicationDraft, type Published } from '../connectors/types.js';
import { canRetry, nextRetryDelayMs } from '../domain/retry.js';
import { openJson, sealJson } from '../lib/crypto.js';
import { credentialsAad } from '../services/accounts.js';
import { refreshAccount, renewable } from '../services/account-tokens.js';
import type { OAuthTokens } from '../connectors/auth-types.js';
import { draftMediaFor } from '../services/media-delivery.js';
import { effectiveText } from '../services/validate-post.js';
import type { PublicationError } from '../db/queries/posts.js';
import type { ClaimedJob } from './claim.js';
import { spendQuota, type QuotaInput } from '../services/platform-quota.js';
import { providerConnector, providerOf } from '../providers/connector.js';
import { providerRoutes } from '../services/providers.js';
import type { PlatformId } from '../connectors/types.js';

export type Outcome =
  /** `route`: 'direct', or the provider route that published it ('<provider>:<workspace|operator>'). */
  | { kind: 'published'; platformPostId: string; url: string; found: boolean; route: string }
  | { kind: 'retry'; error: PublicationError; at: Date; needsReconcile: boolean }
  | { kind: 'failed'; error: PublicationError }
  | { kind: 'unconfirmed'; error: PublicationError }
  /** The platform is processing what this attempt created: check again at `at` with `ref`. */
  | { kind: 'processing'; ref: Record<string, unknown>; note?: string; at: Date };

/** What the account should become after an error (auth lost, access revoked, rate-limited). */
export type AccountEffect =
  | { kind: 'block'; until: Date }
  | { kind: 'reconnect_required'; reason: string }
  | { kind: 'disconnect'; reason: string };

export type RunResult = { job: ClaimedJob; outcome: Outcome; account?: AccountEffect; startedAt: Date };

function toPublicationError(e: ConnectorError): PublicationError {
  return { code: e.code, category: e.category, platform_code: e.platformCode ?? null, message: e.message, retryable: e.retryable };
}

export async function runPublication(ctx: AppContext, job: ClaimedJob, shutdown: AbortSignal, workerId: string): Promise<RunResult> {
  const startedAt = ctx.clock.now();
  const done = (outcome: Outcome, account?: AccountEffect): RunResult => ({ job, outcome, account, startedAt });
  const provider = providerOf(job.account_route);
  const connector = provider ? providerConnector(job.platform as PlatformId, await providerRoutes(ctx, job.workspace_id)) : getConnector(job.platform);
  if (!connector) {
    return done({ kind: 'failed', error: { code: 'CONNECTOR_FAILED', category: 'permanent', message: `no connector for platform ${job.platform}`, retryable: false } });
  }
  if (job.account_status !== 'connected' || !job.credentials) {
    const code = job.account_status === 'reconnect_required' ? 'PLATFORM_AUTH_EXPIRED' : 'ACCOUNT_DISCONNECTED';
    return done({ kind: 'failed', error: { code, category: code === 'ACCOUNT_DISCONNECTED' ? 'revoked' : 'auth_expired', message: `the account is ${job.account_status}; reconnect it and publish again`, retryable: false } });
  }
  // A provider account's calls go to its routes' own base URLs (providerRoutes), not the platform's.
  const baseUrl = provider ? 'provider:' : job.account_sandbox ? `${ctx.sandboxUrl}/${job.platform}` : (job.account_instance_url ?? PLATFORM_BASE_URLS[connector.id]);
  if (!baseUrl || (job.account_sandbox && !provider && !ctx.sandboxUrl)) {
    return done({ kind: 'failed', error: { code: 'CONNECTOR_FAILED', category: 'permanent', message: ctx.config.sandbox ? 'this worker does not know where the sandbox simulators are: set CRIER_SANDBOX_URL to the API\'s /sandbox URL' : 'sandbox mode is off on this instance (CRIER_SANDBOX=false), so sandbox accounts cannot publish', retryable: false } });
  }
  let media: DraftMedia[];
  try {
    media = await draftMediaFor(ctx, job.workspace_id, job.post_media, job.media_plan);
  } catch (error) {
    // Nothing was sent yet: a store that is down is an ordinary retry, never an unknown outcome.
    return classify(ctx, connector, job, { category: 'transient', code: 'MEDIA_FAILED', message: `could not read the post's media: ${(error as Error).message}`, retryable: true }, done);
  }
  // One controller per attempt, released when it ends: AbortSignal.any() with the long-lived shutdown signal
  // registers every attempt on that signal, and was the worker's largest CPU cost in the burst benchmark.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('publish timeout', 'TimeoutError')), ctx.config.worker.publishTimeoutMs);
  const onShutdown = () => controller.abort(new DOMException('worker shutting down', 'AbortError'));
  if (shutdown.aborted) onShutdown();
  else shutdown.addEventListener('abort', onShutdown, { once: true });
  const signal = controller.signal;
  const cctx: ConnectorCtx<unknown> = {
    credentials: openJson(ctx.keyRing, job.credentials, credentialsAad(job.account_id)),
    saveCredentials: async (next) => {
      await ctx.db.query('UPDATE accounts SET credentials = $2, updated_at = now() WHERE id = $1', [job.account_id, sealJson(ctx.keyRing, next, credentialsAad(job.account_id))]);
    },
    refresh: connector.auth?.kind === 'oauth2' ? () => refreshFor(ctx, cctx, job.account_id) : undefined,
    checkpoint: async (state) => {
      // Fenced like results: a worker that lost its lease must not overwrite the new owner's progress.
      const { rowCount } = await ctx.db.query(
        `UPDATE publications SET checkpoint = $3, updated_at = now() WHERE id = $1 AND lease_owner = $2 AND status = 'publishing'`,
        [job.id, workerId, JSON.stringify(state)],
      );
      if (rowCount === 0) throw new Error('lost the lease on this publication; stopping before the next step');
    },
    baseUrl,
    sandbox: job.account_sandbox,
    clock: ctx.clock,
    log: ctx.log.child({ publication_id: job.id, platform: job.platform }),
    signal,
    spendQuota: connector.quota ? (units) => spendQuota(ctx.db, quotaFor(ctx, connector, job, units)) : undefined,
  };
  const draft: PublicationDraft = {
    publicationId: job.id,
    marker: job.id,
    text: effectiveText({ text: job.text, options: job.options }, job.platform),
    options: job.options[job.platform] ?? {},
    media,
    checkpoint: job.checkpoint,
  };
  try {
    // A token about to expire is renewed before the attempt rather than failing half-way through it.
    const tokens = cctx.credentials as Partial<OAuthTokens>;
    if (cctx.refresh && renewable(job.platform, tokens) && tokens.expiresAt && Date.parse(tokens.expiresAt) - ctx.clock.now().getTime() < 60_000) {
      const renewed = await cctx.refresh();
      if (!renewed.ok) return classify(ctx, connector, job, renewed.error, done);
    }
    return await attempt(ctx, connector, cctx, draft, job, done);
  } catch (error) {
    // A connector bug may strike after the request left: treat the outcome as unknown.
    const e: ConnectorError = { category: 'transient', code: 'CONNECTOR_FAILED', message: `connector failed: ${(error as Error).message}`, retryable: true, outcomeUnknown: true };
    cctx.log.error({ err: error }, 'connector threw');
    return done(unknownOutcome(ctx, connector, job, e));
  } finally {
    clearTimeout(timer);
    shutdown.removeEventListener('abort', onShutdown);
  }
}

async function attempt(
  ctx: AppContext,
  connector: PlatformConnector<unknown>,
  cctx: ConnectorCtx<unknown>,
  draft: PublicationDraft,
  job: ClaimedJob,
  done: (o: Outcome, a?: AccountEffect) => RunResult,
): Promise<RunResult> {
  // Any earlier attempt might have published (a 5xx after commit, a lost response): look before posting.
  if (job.attempts > 1 || job.needs_reconcile) {
    if (!connector.findExisting) {
      if (job.needs_reconcile) return done(unconfirmed('an earlier attempt may have published and this platform cannot be read back'));
    } else {
      const found = await connector.findExisting(cctx, draft);
      if (!found.ok) return readBackFailed(ctx, connector, job, found.error, done);
      if (found.value) return done({ kind: 'published', platformPostId: found.value.platformPostId, url: found.value.url, found: true, route: found.value.via ?? 'direct' });
    }
  }
  let result;
  if (job.pending) {
    const waited = ctx.clock.now().getTime() - (job.pending_since ?? ctx.clock.now()).getTime();
    if (waited > ctx.config.worker.pendingDeadlineMs) {
      return done({ kind: 'failed', error: { code: 'PLATFORM_TIMEOUT', category: 'transient', message: `the platform was still processing after ${Math.round(waited / 60_000)} minutes${job.pending.note ? ` (${job.pending.note})` : ''}; Crier stopped waiting`, retryable: false } });
    }
    if (!connector.checkStatus) return done({ kind: 'failed', error: connectorBug('it left a publication processing but cannot check on it') });
    result = await connector.checkStatus(cctx, draft, job.pending.ref);
  } else {
    result = await connector.publish(cctx, draft);
  }
  if (!result.ok) return classify(ctx, connector, job, result.error, done);
  return done(success(ctx, connector, result.value));
}

/** The app whose quota a call spends: the account's own app, the operator's, or the sandbox's. */
function quotaFor(ctx: AppContext, connector: PlatformConnector<unknown>, job: ClaimedJob, units: number): QuotaInput {
  // The sandbox app is shared by every sandbox account, so each counts as its own project there (as on the simulator).
  const appKey = job.account_sandbox ? `sandbox:${job.account_id}` : (job.account_app_id ?? 'operator');
  const unitsPerDay = ctx.config.quotas[connector.id] ?? connector.quota!.unitsPerDay;
  return { platform: connector.id, appKey, units, unitsPerDay, resetTimeZone: connector.quota!.resetTimeZone, now: ctx.clock.now() };
}

/** Renews the account's tokens (under its row lock; another worker's fresh tokens are taken as they are). */
async function refreshFor(ctx: AppContext, cctx: ConnectorCtx<unknown>, accountId: string) {
  const current = cctx.credentials as OAuthTokens;
  const r = await refreshAccount(ctx, accountId, current.accessToken);
  if (r.ok) cctx.credentials = r.value;
  return r;
}

function success(ctx: AppContext, connector: PlatformConnector<unknown>, v: Published | Pending): Outcome {
  if (!isPending(v)) return { kind: 'published', platformPostId: v.platformPostId, url: v.url, found: false, route: v.via ?? 'direct' };
  if (!connector.checkStatus) return { kind: 'failed', error: connectorBug('it answered "processing" but cannot check on it') };
  const delay = Math.min(Math.max(v.pending.checkAfterMs, 1_000), 3_600_000);
  return { kind: 'processing', ref: v.pending.ref, note: v.pending.note, at: new Date(ctx.clock.now().getTime() + delay) };
}

const connectorBug = (what: string): PublicationError => ({ code: 'CONNECTOR_FAILED', category: 'permanent', message: `connector bug: ${what}`, retryable: false });

/**
 * The read-back itself failed. If the last attempt's outcome was definite, this is an ordinary error;
 * if it was unknown, the publication must not be failed or re-posted: retry the read-back, or give up
 * as unconfirmed.
 */
function readBackFailed(
  ctx: AppContext,
  connector: PlatformConnector<unknown>,
  job: ClaimedJob,
  e: ConnectorError,
  done: (o: Outcome, a?: AccountEffect) => RunResult,
): RunResult {
  if (!job.needs_reconcile) return classify(ctx, connector, job, e, done);
  if (e.category === 'rate_limited') {
    const until = new Date(ctx.clock.now().getTime() + Math.max(e.retryAfterMs ?? 60_000, 1_000));
    return done({ kind: 'retry', error: toPublicationError(e), at: until, needsReconcile: true }, { kind: 'block', until });
  }
  if (e.retryable) return done(unknownOutcome(ctx, connector, job, e));
  const effect: AccountEffect | undefined =
    e.category === 'auth_expired' ? { kind: 'reconnect_required', reason: e.message }
    : e.category === 'revoked' ? { kind: 'disconnect', reason: e.message }
    : undefined;
  return done(unconfirmed(`an earlier attempt may have published and reading it back failed: ${e.message}`), effect);
}

function unconfirmed(message: string): Outcome {
  return { kind: 'unconfirmed', error: { code: 'OUTCOME_UNKNOWN', category: 'transient', message, retryable: false } };
}

function unknownOutcome(ctx: AppContext, connector: PlatformConnector<unknown>, job: ClaimedJob, e: ConnectorError): Outcome {
  // Reading back is safe to repeat, but not forever: a read-back that keeps failing ends as unconfirmed.
  if (!connector.findExisting || job.attempts >= ctx.config.worker.maxAttempts + 2) {
    return unconfirmed(`${e.message}; the platform may or may not have published it`);
  }
  const delay = nextRetryDelayMs(policy(ctx), job.attempts, e.retryAfterMs);
  return { kind: 'retry', error: toPublicationError(e), at: new Date(ctx.clock.now().getTime() + delay), needsReconcile: true };
}

/** Classifies a definite error (the platform answered, or the request never left). */
function classify(
  ctx: AppContext,
  connector: PlatformConnector<unknown>,
  job: ClaimedJob,
  e: ConnectorError,
  done: (o: Outcome, a?: AccountEffect) => RunResult,
): RunResult {
  const now = ctx.clock.now();
  const error = toPublicationError(e);
  if (e.outcomeUnknown) return done(unknownOutcome(ctx, connector, job, e));
  switch (e.category) {
    case 'rate_limited': {
      // Parked until the platform's reset, not spun; the account waits too. A rate limit is not the
      // content's fault, so it does not use up retries, but it cannot postpone a post beyond a day.
      const until = new Date(now.getTime() + Math.max(e.retryAfterMs ?? 60_000, 1_000));
      const dueAt = job.scheduled_at ?? job.next_attempt_at;
      if (until.getTime() - dueAt.getTime() > 86_400_000) return done({ kind: 'failed', error: { ...error, message: `${e.message}; still rate-limited a day after it was due` } });
      return done({ kind: 'retry', error, at: until, needsReconcile: false }, { kind: 'block', until });
    }
    case 'auth_expired':
      return done({ kind: 'failed', error }, { kind: 'reconnect_required', reason: e.message });
    case 'revoked':
      return done({ kind: 'failed', error }, { kind: 'disconnect', reason: e.message });
    default:
      if (e.retryable && canRetry(policy(ctx), job.attempts)) {
        const delay = nextRetryDelayMs(policy(ctx), job.attempts, e.retryAfterMs);
        return done({ kind: 'retry', error, at: new Date(now.getTime() + delay), needsReconcile: false });
      }
      if (e.retryable) return done({ kind: 'failed', error: { ...error, message: `${e.message} (gave up after ${job.attempts} attempts)` } });
      return done({ kind: 'failed', error });
  }
}

function policy(ctx: AppContext) {
  const w = ctx.config.worker;
  return { maxAttempts: w.maxAttempts, baseMs: w.retryBaseMs, maxMs: w.retryMaxMs };
}
