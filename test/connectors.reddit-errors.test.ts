// How the Reddit connector classifies what Reddit answers: refusals inside HTTP 200 (json.errors, with the
// RATELIMIT throttle's wait), 401 (refresh once, then retry; a refused refresh is lost access), 403 (a
// scope missing from the token, or a refusal about the subreddit), 429 with X-Ratelimit-Reset, 5xx, an
// unreachable API; and a submission whose answer was lost, found again in the account's submissions.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_APP } from '../src/connectors/auth-types.js';
import { refreshTokens } from '../src/connectors/oauth/client.js';
import { redditAuth } from '../src/connectors/reddit/auth.js';
import { redditConnector, type RedditCredentials } from '../src/connectors/reddit/connector.js';
import type { ConnectorCtx, PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { DEFAULT_CONFIG } from '../src/sandbox/reddit/state.js';

const silent = { info() {}, warn() {}, error() {} };
let sandbox: SandboxServer;
let base: string;
beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/reddit`;
});
afterAll(async () => sandbox?.close());
beforeEach(() => {
  sandbox.reddit.core.clearFaults();
  Object.assign(sandbox.reddit.config, DEFAULT_CONFIG);
});

async function account(scopes?: string[]) {
  const created = await redditConnector.sandbox!.createAccount(base, `e${Math.random().toString(36).slice(2, 10)}`);
  let refreshes = 0;
  const ctx: ConnectorCtx<RedditCredentials> = {
    credentials: created.credentials,
    saveCredentials: async () => {},
    async refresh() {
      refreshes++;
      const r = await refreshTokens(redditAuth, { sandboxBase: base }, SANDBOX_APP, ctx.credentials, new Date(), AbortSignal.timeout(5_000));
      if (r.ok) ctx.credentials = r.value;
      return r;
    },
    checkpoint: async () => {},
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(15_000),
  };
  if (scopes) {
    const user = sandbox.reddit.oauth.users.get(created.externalId)!;
    ctx.credentials = { ...ctx.credentials, accessToken: (await sandbox.reddit.oauth.issue(user, scopes))['access_token'] as string };
  }
  return { ctx, id: created.externalId, refreshes: () => refreshes };
}

const unique = (s: string) => `${s} ${Math.random().toString(36).slice(2, 8)}`;
function draft(text: string, options: Record<string, unknown> = {}): PublicationDraft {
  const id = newId('publication');
  return { publicationId: id, marker: id, text, options: { subreddit: 'sandbox', title: 'Errors', ...options }, media: [], checkpoint: null };
}
const postsOf = (user: string) => [...sandbox.reddit.posts.values()].filter((p) => p.authorId === user);

describe('Reddit errors', () => {
  it('reads the posting throttle (RATELIMIT) as rate limited for the wait Reddit names', async () => {
    const a = await account();
    sandbox.reddit.config.postIntervalSec = 540;
    expect((await redditConnector.publish(a.ctx, draft(unique('first')))).ok).toBe(true);
    const r = await redditConnector.publish(a.ctx, draft(unique('second')));
    expect(!r.ok && r.error).toMatchObject({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', platformCode: 'RATELIMIT', retryable: true });
    const wait = !r.ok ? r.error.retryAfterMs! : 0;
    expect(wait).toBeGreaterThan(530_000);
    expect(wait).toBeLessThanOrEqual(540_000);
    expect(postsOf(a.id)).toHaveLength(1);
  });

  it('refreshes an expired token once and publishes; a refused refresh means the account lost access', async () => {
    const a = await account();
    sandbox.reddit.core.addFault({ operation: 'submit', account: a.id, fault: { kind: 'expired_token' } });
    const r = await redditConnector.publish(a.ctx, draft(unique('after refresh')));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(a.refreshes()).toBe(1);
    const b = await account();
    sandbox.reddit.oauth.revokeUser(b.id);
    const lost = await redditConnector.publish(b.ctx, draft(unique('revoked')));
    expect(!lost.ok && lost.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false });
  });

  it('reads a 403 for a scope the token lacks as a reconnect, and answers a generic User-Agent with 429', async () => {
    const a = await account(['identity', 'read', 'history', 'flair']);
    const r = await redditConnector.publish(a.ctx, draft(unique('no submit scope')));
    expect(!r.ok && r.error).toMatchObject({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', platformCode: 'insufficient_scope', retryable: false });
    const generic = await fetch(`${base}/api/v1/me`, { headers: { authorization: `bearer ${a.ctx.credentials.accessToken}`, 'user-agent': 'node' } });
    expect(generic.status).toBe(429);
    expect(await generic.json()).toEqual({ message: 'Too Many Requests', error: 429 });
  });

  it('reads a 429 with X-Ratelimit-Reset (seconds left) as the wait, and 5xx as transient', async () => {
    const a = await account();
    sandbox.reddit.core.addFault({ operation: 'subreddit.about', account: a.id, fault: { kind: 'rate_limit', retry_after_seconds: 137 } });
    const r = await redditConnector.publish(a.ctx, draft(unique('429')));
    expect(!r.ok && r.error).toMatchObject({ category: 'rate_limited', retryAfterMs: 137_000, retryable: true });
    sandbox.reddit.core.addFault({ operation: 'submit', account: a.id, fault: { kind: 'status', status: 503 } });
    const s = await redditConnector.publish(a.ctx, draft(unique('503')));
    expect(!s.ok && s.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true });
  });

  it('reads a submission Reddit refuses for its title as invalid content', async () => {
    const a = await account();
    // Reddit's own 300-character limit, sent anyway (validate() would have refused it at creation).
    const r = await redditConnector.publish(a.ctx, draft('x', { title: 't'.repeat(301) }));
    expect(!r.ok && r.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', platformCode: 'TOO_LONG', retryable: false });
    expect(!r.ok && r.error.message).toContain('this is too long (max: 300)');
  });

  it('finds a post whose answer was lost instead of posting it again', async () => {
    const a = await account();
    const checkpoints: Record<string, unknown>[] = [];
    a.ctx.checkpoint = async (s) => void checkpoints.push(s);
    sandbox.reddit.core.addFault({ operation: 'submit', account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_500 } });
    const controller = new AbortController();
    const timer = setInterval(() => {
      if (sandbox.reddit.core.log.some((l) => l.account === a.id && l.operation === 'submit')) {
        clearInterval(timer);
        controller.abort(new DOMException('timed out', 'TimeoutError'));
      }
    }, 10);
    a.ctx.signal = controller.signal;
    const d = draft(unique('answer lost'));
    const first = await redditConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ outcomeUnknown: true, code: 'PLATFORM_TIMEOUT' });
    a.ctx.signal = AbortSignal.timeout(10_000);
    d.checkpoint = checkpoints.at(-1)!;
    const found = await redditConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value?.platformPostId).toBe(postsOf(a.id)[0]!.id);
    // Same title and subreddit, another body: not the same post.
    const other = await redditConnector.findExisting!(a.ctx, { ...d, text: 'another body' });
    expect(other.ok && other.value).toBeNull();
    // A checkpoint without `since`: nothing was ever submitted.
    const never = await redditConnector.findExisting!(a.ctx, { ...d, checkpoint: {} });
    expect(never.ok && never.value).toBeNull();
    expect(postsOf(a.id)).toHaveLength(1);
  });

  it('reports an unreachable API as transient with nothing sent', async () => {
    const a = await account();
    a.ctx.baseUrl = 'http://127.0.0.1:9';
    const r = await redditConnector.publish(a.ctx, draft('x'));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNREACHABLE', retryable: true });
    expect(!r.ok && r.error.outcomeUnknown).toBeFalsy();
  });
});
