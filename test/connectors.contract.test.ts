// The one contract every connector keeps (design.md "Testing habits"), run against each platform's
// simulator over real HTTP: a text post publishes and can be read back; 400, 401 (refresh then retry),
// 403, 429 (with the platform's wait), 5xx and network failures are classified the same way everywhere;
// and an attempt whose answer was lost is found by the next attempt's read-back, so nothing is posted twice.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { abortOnceServed, publishSettled, textDraft, type ContractFixture } from './support/contract.js';
import { CONTRACT_FIXTURES } from './support/contract-fixtures.js';
import { PROVIDER_FIXTURES } from './support/contract-providers.js';

let sandbox: SandboxServer;
beforeAll(async () => {
  sandbox = await startSandboxServer();
});
afterAll(async () => sandbox?.close());

const unique = (what: string) => `${what} ${Math.random().toString(36).slice(2, 10)}`;

describe.each([...CONTRACT_FIXTURES, ...PROVIDER_FIXTURES].map((f) => [f.name, f] as const))('%s connector contract', (_name, f: ContractFixture) => {
  beforeEach(() => f.core(sandbox).clearFaults());
  const draft = async (what: string) => textDraft(unique(what), f.options ?? {}, (await f.media?.()) ?? []);

  it('publishes a text post, returns its id and URL, and reads it back by the same draft', async () => {
    const a = await f.account(sandbox);
    const d = await draft('contract text post');
    const r = await publishSettled(f.connector, a.ctx, d);
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.value.platformPostId).toBeTruthy();
    expect(r.value.url).toMatch(/^https?:\/\//);
    expect(f.posted(sandbox, a.externalId)).toBe(1);
    if (f.connector.findExisting) {
      const found = await f.connector.findExisting(a.ctx, d);
      expect(found.ok && found.value?.platformPostId).toBe(r.value.platformPostId);
      const other = await f.connector.findExisting(a.ctx, await draft('never posted'));
      expect(found.ok && other.ok && other.value).toBeNull();
    }
  });

  it('classifies a 400 as a content problem that is not retried', async () => {
    const a = await f.account(sandbox);
    f.core(sandbox).addFault({ operation: f.publishOperation, account: a.externalId, fault: { kind: 'status', status: 400, body: f.errorBody(400) } });
    const r = await f.connector.publish(a.ctx, await draft('refused'));
    expect(!r.ok && r.error).toMatchObject({ retryable: false });
    expect(!r.ok && ['invalid_content', 'permanent', 'media_error', 'duplicate']).toContain(!r.ok && r.error.category);
    expect(!r.ok && r.error.outcomeUnknown).toBeFalsy();
    expect(f.posted(sandbox, a.externalId)).toBe(0);
  });

  it('refreshes an expired access token once and publishes, saving the new credentials first', async () => {
    const a = await f.account(sandbox);
    f.core(sandbox).addFault({ operation: f.publishOperation, account: a.externalId, fault: { kind: 'expired_token' } });
    const r = await publishSettled(f.connector, a.ctx, await draft('after refresh'));
    if (f.refreshes === false) {
      expect(!r.ok && r.error).toMatchObject({ retryable: false });
      expect(f.lostAccess ?? ['revoked', 'auth_expired']).toContain(!r.ok && r.error.category);
      return;
    }
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(a.saved.length + a.refreshed()).toBeGreaterThanOrEqual(1);
    expect(f.posted(sandbox, a.externalId)).toBe(1);
  });

  it('classifies a 403 as lost access or a refusal, never as retryable', async () => {
    const a = await f.account(sandbox);
    f.core(sandbox).addFault({ operation: f.publishOperation, account: a.externalId, fault: { kind: 'status', status: 403, body: f.errorBody(403) } });
    const r = await f.connector.publish(a.ctx, await draft('forbidden'));
    expect(!r.ok && r.error.retryable).toBe(false);
    expect(['revoked', 'permanent', 'invalid_content', 'duplicate', 'auth_expired']).toContain(!r.ok && r.error.category);
  });

  it('classifies a 429 as rate limited with the wait the platform asked for', async () => {
    const a = await f.account(sandbox);
    f.core(sandbox).addFault({ operation: f.publishOperation, account: a.externalId, fault: { kind: 'rate_limit', retry_after_seconds: 42 } });
    const r = await f.connector.publish(a.ctx, await draft('rate limited'));
    expect(!r.ok && r.error).toMatchObject({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true });
    const wait = !r.ok ? r.error.retryAfterMs ?? 0 : 0;
    if (f.sendsRetryAfter === false) {
      expect(wait).toBeGreaterThan(0);
      return;
    }
    expect(wait).toBeGreaterThanOrEqual(40_000);
    expect(wait).toBeLessThanOrEqual(44_000);
  });

  it.each([500, 502, 503])('classifies a %i as transient and retryable', async (status) => {
    const a = await f.account(sandbox);
    f.core(sandbox).addFault({ operation: f.publishOperation, account: a.externalId, fault: { kind: 'status', status } });
    const r = await f.connector.publish(a.ctx, await draft(`server error ${status}`));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', retryable: true });
  });

  it('reports a platform that cannot be reached as transient, with nothing sent', async () => {
    const a = await f.account(sandbox);
    a.ctx.baseUrl = 'http://127.0.0.1:9';
    const r = await f.connector.publish(a.ctx, await draft('unreachable'));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNREACHABLE', retryable: true });
    expect(!r.ok && r.error.outcomeUnknown).toBeFalsy();
  });

  it('does not publish twice when the answer to a post that went through was lost', async () => {
    const a = await f.account(sandbox);
    const core = f.core(sandbox);
    core.log.length = 0;
    core.addFault({ operation: f.publishOperation, account: a.externalId, fault: { kind: 'accept_then_timeout', ms: 1_000 } });
    a.ctx.signal = abortOnceServed(core, a.externalId, f.publishOperation);
    const d = await draft('answer lost');
    const first = await f.connector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ outcomeUnknown: true });
    expect(f.posted(sandbox, a.externalId)).toBe(1);
    // The worker's next attempt reads back before publishing (src/worker/run.ts): it must find this post.
    a.ctx.signal = AbortSignal.timeout(10_000);
    expect(f.connector.findExisting, 'a connector without read-back leaves such a publication unconfirmed').toBeDefined();
    const found = await f.connector.findExisting!(a.ctx, d);
    expect(found.ok && found.value?.platformPostId).toBeTruthy();
    expect(f.posted(sandbox, a.externalId)).toBe(1);
  });
});
