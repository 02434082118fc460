// Never twice on LinkedIn: an attempt whose answer was lost is found again by reading the author's posts
// back (members with r_member_social, pages), or, for the many apps LinkedIn does not let read a member's
// posts, by sending the very same request again, which LinkedIn refuses as "a duplicate of urn:li:share:N"
// naming the first post, adopted as this publication's. A duplicate of a post this publication never sent
// stays a duplicate error.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { linkedinConnector, type LinkedInCredentials } from '../src/connectors/linkedin/connector.js';
import { parseTokenAnswer } from '../src/connectors/oauth/client.js';
import { isPending, type ConnectorCtx, type DraftMedia, type PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';

const CREATE = 'posts.create';
const silent = { info() {}, warn() {}, error() {} };
let sandbox: SandboxServer;
let base: string;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/linkedin`;
});
afterAll(async () => sandbox?.close());
beforeEach(() => sandbox.linkedin.core.clearFaults());

type Account = { ctx: ConnectorCtx<LinkedInCredentials>; person: string; personId: string; checkpoints: Record<string, unknown>[] };

/** Scopes of the sandbox app by default (r_member_social included); `withoutRead` is the usual real app. */
async function member(withoutRead = false): Promise<Account> {
  const scopes = withoutRead ? ['openid', 'profile', 'w_member_social', 'w_organization_social', 'r_organization_social', 'rw_organization_admin'] : undefined;
  const r = await fetch(`${base}/_sim/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `r${Math.random().toString(36).slice(2, 8)}`, scopes }) });
  const body = (await r.json()) as { sub: string; token: Record<string, unknown> };
  const { raw: _raw, ...tokens } = parseTokenAnswer(body.token, new Date());
  const person = `urn:li:person:${body.sub}`;
  const checkpoints: Record<string, unknown>[] = [];
  const ctx: ConnectorCtx<LinkedInCredentials> = {
    credentials: { ...tokens, author: person },
    saveCredentials: async () => {},
    checkpoint: async (s) => void checkpoints.push(structuredClone(s)),
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(10_000),
  };
  return { ctx, person, personId: body.sub, checkpoints };
}

const draft = (text: string, files: DraftMedia[] = []): PublicationDraft => {
  const id = newId('publication');
  return { publicationId: id, marker: id, text, options: {}, media: files, checkpoint: null };
};
/** The next attempt, as the worker makes it: the same draft with what the last one saved. */
const retry = (a: Account, d: PublicationDraft): PublicationDraft => ({ ...d, checkpoint: a.checkpoints.at(-1) ?? null });
const unique = (what: string) => `${what} ${Math.random().toString(36).slice(2, 10)}`;
const postsOf = (author: string) => [...sandbox.linkedin.posts.values()].filter((p) => p.author === author);

/** Aborts once the simulator has served `operation` for `account` but holds back its answer (accept_then_timeout). */
function abortOnceServed(account: string, operation: string): AbortSignal {
  const controller = new AbortController();
  const timer = setInterval(() => {
    if (!sandbox.linkedin.core.log.some((r) => r.account === account && r.operation === operation)) return;
    clearInterval(timer);
    controller.abort(new DOMException('timed out', 'TimeoutError'));
  }, 10);
  return controller.signal;
}

async function loseAnswer(a: Account, d: PublicationDraft) {
  sandbox.linkedin.core.log.length = 0;
  sandbox.linkedin.core.addFault({ operation: CREATE, account: a.ctx.credentials.author, fault: { kind: 'accept_then_timeout', ms: 1_000 } });
  a.ctx.signal = abortOnceServed(a.ctx.credentials.author, CREATE);
  const first = await linkedinConnector.publish(a.ctx, d);
  a.ctx.signal = AbortSignal.timeout(10_000);
  return first;
}

describe('a lost answer, read back', () => {
  it('finds the member\'s post among their recent posts, so the next attempt does not post again', async () => {
    const a = await member();
    const d = draft(unique('answer lost (with #tags & [brackets])'));
    const first = await loseAnswer(a, d);
    expect(!first.ok && first.error).toMatchObject({ category: 'transient', outcomeUnknown: true });
    const [post] = postsOf(a.person);
    const found = await linkedinConnector.findExisting!(a.ctx, retry(a, d));
    expect(found.ok && found.value).toEqual({ platformPostId: post!.id, url: `${base}/feed/update/${post!.id}` });
    const never = await linkedinConnector.findExisting!(a.ctx, draft(unique('never posted')));
    expect(never.ok && never.value).toBeNull();
    expect(postsOf(a.person)).toHaveLength(1);
  });

  it('reads a page\'s posts back with r_organization_social', async () => {
    const a = await member(true);
    const page = [...sandbox.linkedin.organizations.values()].find((o) => o.roles.has(a.personId))!;
    a.ctx.credentials = { ...a.ctx.credentials, author: `urn:li:organization:${page.id}` };
    const d = draft(unique('page answer lost'));
    await loseAnswer(a, d);
    const found = await linkedinConnector.findExisting!(a.ctx, retry(a, d));
    expect(found.ok && found.value?.platformPostId).toBe(postsOf(a.ctx.credentials.author)[0]!.id);
  });

  it('does not take an older post with the same text for this publication\'s', async () => {
    const a = await member();
    const text = unique('said before');
    const old = await linkedinConnector.publish(a.ctx, draft(text));
    expect(old.ok).toBe(true);
    const d = retry(a, draft(text));
    d.checkpoint = { uploaded: {}, postSentAt: new Date(Date.now() + 3_600_000).toISOString() }; // this publication sent later
    const found = await linkedinConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value).toBeNull();
  });
});

describe('members whose posts the app may not read (no r_member_social)', () => {
  it('finds nothing to look for when no create request ever left, and publishes', async () => {
    const a = await member(true);
    const d = draft(unique('first try failed early'));
    const found = await linkedinConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value).toBeNull();
    const r = await linkedinConnector.publish(a.ctx, d);
    expect(r.ok).toBe(true);
  });

  it('publishes once when the answer was lost: the same request again is refused as a duplicate naming the post, which is adopted', async () => {
    const a = await member(true);
    const d = draft(unique('lost without read access'));
    const first = await loseAnswer(a, d);
    expect(!first.ok && first.error.outcomeUnknown).toBe(true);
    expect(a.checkpoints.at(-1)).toMatchObject({ postSentAt: expect.any(String) });
    const found = await linkedinConnector.findExisting!(a.ctx, retry(a, d));
    expect(found.ok && found.value).toBeNull(); // cannot read: the next attempt relies on LinkedIn's duplicate check
    const second = await linkedinConnector.publish(a.ctx, retry(a, d));
    const [post] = postsOf(a.person);
    expect(second.ok && !isPending(second.value) && second.value.platformPostId).toBe(post!.id);
    expect(postsOf(a.person)).toHaveLength(1);
  });

  it('gives up (unconfirmed) on a post without text, which LinkedIn\'s duplicate check cannot recognise', async () => {
    const a = await member(true);
    const d = { ...draft(''), checkpoint: { uploaded: {}, postSentAt: new Date().toISOString() } };
    const found = await linkedinConnector.findExisting!(a.ctx, d);
    expect(!found.ok && found.error).toMatchObject({ category: 'permanent', platformCode: 'ACCESS_DENIED', retryable: false });
  });
});

describe('duplicates', () => {
  it('refuses the same text twice from different publications as DUPLICATE_CONTENT, and forgets the refused send', async () => {
    const a = await member();
    const text = unique('same words');
    expect((await linkedinConnector.publish(a.ctx, draft(text))).ok).toBe(true);
    a.checkpoints.length = 0;
    const r = await linkedinConnector.publish(a.ctx, draft(text));
    expect(!r.ok && r.error).toMatchObject({ category: 'duplicate', code: 'DUPLICATE_CONTENT', retryable: false });
    expect(!r.ok && r.error.message).toMatch(/^Content is a duplicate of urn:li:share:\d+$/);
    // The send was recorded before it left, then cleared once LinkedIn answered that it created nothing.
    expect(a.checkpoints.map((c) => c['postSentAt'] === null)).toEqual([false, true]);
    expect(postsOf(a.person)).toHaveLength(1);
  });

  it('keeps the first send\'s time across attempts, so a read-back looks after the first one', async () => {
    const a = await member();
    sandbox.linkedin.core.addFault({ operation: CREATE, account: a.person, fault: { kind: 'status', status: 500 } });
    const d = draft(unique('500 then retried'));
    const first = await linkedinConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ code: 'PLATFORM_UNAVAILABLE', outcomeUnknown: true });
    const sentAt = a.checkpoints.at(-1)!['postSentAt'];
    const second = await linkedinConnector.publish(a.ctx, retry(a, d));
    expect(second.ok).toBe(true);
    expect(a.checkpoints.at(-1)!['postSentAt']).toBe(sentAt);
  });
});
