// The LinkedIn connector against its simulator over real HTTP: text posts as a member and as a page, the
// little-text commentary, validation counted LinkedIn's way, and how every refusal is classified (expired
// token refreshed once, no refresh token, revoked, missing permission, duplicate, rate limit without a
// header, server errors, a retired API version).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_APP } from '../src/connectors/auth-types.js';
import { linkedinConnector, type LinkedInCredentials } from '../src/connectors/linkedin/connector.js';
import { linkedinAuth } from '../src/connectors/linkedin/auth.js';
import { LINKEDIN_VERSION } from '../src/connectors/linkedin/client.js';
import { parseTokenAnswer, refreshTokens } from '../src/connectors/oauth/client.js';
import { isPending, type ConnectorCtx, type PublicationDraft } from '../src/connectors/types.js';
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

type Account = { ctx: ConnectorCtx<LinkedInCredentials>; person: string; personId: string; saved: LinkedInCredentials[]; refreshed: () => number };

/** A sandbox member (the scopes of its token can be chosen), with ctx.refresh doing the refresh grant. */
async function member(scopes?: string[]): Promise<Account> {
  const r = await fetch(`${base}/_sim/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `m${Math.random().toString(36).slice(2, 8)}`, scopes }) });
  const body = (await r.json()) as { sub: string; token: Record<string, unknown> };
  const { raw: _raw, ...tokens } = parseTokenAnswer(body.token, new Date());
  const person = `urn:li:person:${body.sub}`;
  const saved: LinkedInCredentials[] = [];
  let refreshed = 0;
  const ctx: ConnectorCtx<LinkedInCredentials> = {
    credentials: { ...tokens, author: person },
    saveCredentials: async (next) => void saved.push(next),
    async refresh() {
      refreshed++;
      const got = await refreshTokens(linkedinAuth, { sandboxBase: base }, SANDBOX_APP, ctx.credentials, new Date(), AbortSignal.timeout(5_000));
      if (got.ok) {
        ctx.credentials = got.value;
        saved.push(got.value);
      }
      return got;
    },
    checkpoint: async () => {},
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(10_000),
  };
  return { ctx, person, personId: body.sub, saved, refreshed: () => refreshed };
}

const draft = (text: string, options: Record<string, unknown> = {}): PublicationDraft => {
  const id = newId('publication');
  return { publicationId: id, marker: id, text, options, media: [], checkpoint: null };
};
const unique = (what: string) => `${what} ${Math.random().toString(36).slice(2, 10)}`;
const postsOf = (author: string) => [...sandbox.linkedin.posts.values()].filter((p) => p.author === author);
const pageOf = (personId: string) => [...sandbox.linkedin.organizations.values()].find((o) => o.roles.get(personId)?.role === 'ADMINISTRATOR')!;

async function rest(path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown; token?: string }) {
  const r = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
}
const versioned = { 'linkedin-version': LINKEDIN_VERSION, 'x-restli-protocol-version': '2.0.0' };

describe('LinkedIn text posts', () => {
  it('publishes as the member with the versioned Posts API and returns the URN from x-restli-id and its feed URL', async () => {
    const a = await member();
    const text = unique('Launch day: (beta) 50% off *today* for @everyone — see <crier.dev> #Crier #social_media 2 #1 C# ~fin~ \\o/ [sic] {x|y} _under_');
    const r = await linkedinConnector.publish(a.ctx, draft(text));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    if (!r.ok || isPending(r.value)) return;
    const [post] = postsOf(a.person);
    expect(r.value.platformPostId).toBe(post!.id);
    expect(r.value.platformPostId).toMatch(/^urn:li:share:\d+$/);
    expect(r.value.url).toBe(`${base}/feed/update/${post!.id}`);
    expect(post).toMatchObject({ author: a.person, visibility: 'PUBLIC', lifecycleState: 'PUBLISHED', isReshareDisabledByAuthor: false, distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] } });
    // Every reserved character arrives as text (nothing cut short), and the #tags became hashtags.
    expect(post!.text).toBe(text);
    expect(post!.commentary).toContain('{hashtag|#|Crier}');
    expect(post!.commentary).toContain('{hashtag|#|social\\_media}');
    expect(post!.commentary).toContain('\\#1 C\\# \\~fin\\~ \\\\o/ \\[sic\\] \\{x\\|y\\}');
    const page = await fetch(r.value.url);
    expect(((await page.json()) as { text: string }).text).toBe(text);
  });

  it('shows why escaping matters: LinkedIn cuts a post short at a stray reserved character', async () => {
    const a = await member();
    const raw = `${unique('Hello')} (world) and more`;
    const res = await rest('/rest/posts', { method: 'POST', token: a.ctx.credentials.accessToken, headers: versioned, body: { author: a.person, commentary: raw, visibility: 'PUBLIC', distribution: { feedDistribution: 'MAIN_FEED' }, lifecycleState: 'PUBLISHED' } });
    expect(res.status).toBe(201);
    expect(sandbox.linkedin.posts.get(res.headers.get('x-restli-id')!)!.text).toBe(raw.slice(0, raw.indexOf('(')));
  });

  it('publishes as a page the member administers, with the visibility and reshare options', async () => {
    const a = await member();
    const page = `urn:li:organization:${pageOf(a.personId).id}`;
    a.ctx.credentials = { ...a.ctx.credentials, author: page };
    const r = await linkedinConnector.publish(a.ctx, draft(unique('from the page'), { visibility: 'LOGGED_IN', disable_reshare: true }));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(postsOf(page)).toEqual([expect.objectContaining({ visibility: 'LOGGED_IN', isReshareDisabledByAuthor: true })]);
    // Pages cannot post to connections: LinkedIn's schema refusal, classified as the content's problem.
    const c = await linkedinConnector.publish(a.ctx, draft(unique('connections only'), { visibility: 'CONNECTIONS' }));
    expect(!c.ok && c.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false });
  });

  it('is refused (403, never retried, never a disconnect) as a page the member only analyses, or without w_member_social', async () => {
    const a = await member();
    const org = (await rest('/_sim/organizations', { method: 'POST', body: { name: 'Analysed Inc', roles: [{ person: a.person, role: 'ANALYST' }] } })).body as { urn: string };
    a.ctx.credentials = { ...a.ctx.credentials, author: org.urn };
    const r = await linkedinConnector.publish(a.ctx, draft(unique('not mine')));
    expect(!r.ok && r.error).toMatchObject({ category: 'permanent', code: 'PLATFORM_ERROR', platformCode: 'ACCESS_DENIED', retryable: false });
    const reader = await member(['openid', 'profile', 'r_member_social']);
    const s = await linkedinConnector.publish(reader.ctx, draft(unique('no scope')));
    expect(!s.ok && s.error).toMatchObject({ category: 'permanent', platformCode: 'ACCESS_DENIED', retryable: false });
    expect(postsOf(org.urn).length + postsOf(reader.person).length).toBe(0);
  });
});

describe('LinkedIn validation', () => {
  const check = (text: string, kinds: string[] = [], options: Record<string, unknown> = {}) =>
    linkedinConnector.validate({ text, options, media: kinds.map((kind) => ({ kind }) as { kind: 'image' | 'video' }) });

  it('counts characters as people see them (an emoji is one) up to 3,000, and needs text without media', () => {
    expect(check('é'.repeat(2999) + '🚀')).toEqual([]);
    expect(check('(' + 'a'.repeat(3000))).toEqual([expect.objectContaining({ code: 'TEXT_TOO_LONG', limit: 3000, actual: 3001 })]);
    expect(check('  ')).toEqual([expect.objectContaining({ code: 'TEXT_EMPTY' })]);
    expect(check('', ['image'])).toEqual([]);
  });

  it('takes 1 to 20 images, or one video, or one PDF document with its title, never a mix', () => {
    expect(check('x', Array(20).fill('image'))).toEqual([]);
    expect(check('x', Array(21).fill('image'))).toEqual([expect.objectContaining({ code: 'TOO_MANY_MEDIA', limit: 20, actual: 21 })]);
    expect(check('x', ['video', 'video'])).toEqual([expect.objectContaining({ code: 'TOO_MANY_MEDIA', limit: 1, actual: 2 })]);
    expect(check('x', ['image', 'video'])).toEqual([expect.objectContaining({ code: 'MEDIA_MIXED_KINDS' })]);
    expect(check('x', ['document'], { document_title: 'Q3 report' })).toEqual([]);
    expect(check('x', ['document'])).toEqual([expect.objectContaining({ code: 'OPTION_INVALID', field: 'options.linkedin.document_title' })]);
    expect(check('x', ['image'], { document_title: 'nope' })).toEqual([expect.objectContaining({ code: 'OPTION_INVALID' })]);
  });

  it('is matched by the simulator: a commentary of 3,001 characters is refused there too', async () => {
    const a = await member();
    const r = await linkedinConnector.publish(a.ctx, draft('a'.repeat(3001)));
    expect(!r.ok && r.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED' });
    expect(!r.ok && r.error.message).toContain('3000');
  });
});

describe('LinkedIn tokens', () => {
  it('refreshes an expired token once, retries, and keeps the refresh token and its original expiry', async () => {
    const a = await member();
    const before = a.ctx.credentials;
    sandbox.linkedin.oauth.expireAccess(a.personId);
    await new Promise((r) => setTimeout(r, 1_100)); // a token issued in a later second is not expired
    const r = await linkedinConnector.publish(a.ctx, draft(unique('after refresh')));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(a.refreshed()).toBe(1);
    expect(a.saved[0]!.accessToken).not.toBe(before.accessToken);
    expect(a.saved[0]).toMatchObject({ refreshToken: before.refreshToken, author: a.person });
    // LinkedIn never extends a refresh token's 365 days (a second or so may pass between the answers).
    expect(Math.abs(Date.parse(a.saved[0]!.refreshExpiresAt!) - Date.parse(before.refreshExpiresAt!))).toBeLessThan(3_000);
    expect(postsOf(a.person)).toHaveLength(1);
  });

  it('answers auth_expired without trying to refresh when the app got no refresh token (most LinkedIn apps)', async () => {
    const a = await member();
    delete a.ctx.credentials.refreshToken;
    sandbox.linkedin.core.addFault({ operation: CREATE, account: a.person, fault: { kind: 'expired_token' } });
    const r = await linkedinConnector.publish(a.ctx, draft(unique('no refresh token')));
    expect(!r.ok && r.error).toMatchObject({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', platformCode: 'EXPIRED_ACCESS_TOKEN', retryable: false });
    expect(a.refreshed()).toBe(0);
  });

  it('reports a refresh the token endpoint refuses as revoked, and a revoked token as revoked without refreshing', async () => {
    const a = await member();
    a.ctx.credentials = { ...a.ctx.credentials, refreshToken: 'not-a-refresh-token' };
    sandbox.linkedin.core.addFault({ operation: CREATE, account: a.person, fault: { kind: 'expired_token' } });
    const r = await linkedinConnector.publish(a.ctx, draft(unique('refresh refused')));
    expect(!r.ok && r.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', platformCode: 'invalid_grant' });
    const b = await member();
    sandbox.linkedin.oauth.revokeUser(b.personId);
    const s = await linkedinConnector.publish(b.ctx, draft(unique('revoked')));
    expect(!s.ok && s.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', platformCode: 'REVOKED_ACCESS_TOKEN' });
    expect(b.refreshed()).toBe(0);
  });
});

describe('LinkedIn refusals and failures', () => {
  it('waits for the daily reset at 00:00 UTC after a 429, since LinkedIn sends no Retry-After', async () => {
    const a = await member();
    sandbox.linkedin.core.addFault({ operation: CREATE, account: a.person, fault: { kind: 'rate_limit', retry_after_seconds: 42 } });
    const now = Date.now();
    const r = await linkedinConnector.publish(a.ctx, draft(unique('rate limited')));
    expect(!r.ok && r.error).toMatchObject({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', platformCode: 'TOO_MANY_REQUESTS', retryable: true });
    const midnight = new Date(now);
    midnight.setUTCHours(24, 1, 0, 0);
    expect(!r.ok && r.error.retryAfterMs).toBeGreaterThan(midnight.getTime() - now - 5_000);
    expect(!r.ok && r.error.retryAfterMs).toBeLessThanOrEqual(midnight.getTime() - now + 1_000);
  });

  it('treats 5xx as transient: 500, 502 and 504 may have created the post (outcome unknown), 503 did not', async () => {
    const a = await member();
    for (const [status, unknown] of [[500, true], [502, true], [504, true], [503, false]] as const) {
      sandbox.linkedin.core.addFault({ operation: CREATE, account: a.person, fault: { kind: 'status', status } });
      const r = await linkedinConnector.publish(a.ctx, draft(unique(`server error ${status}`)));
      expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true, outcomeUnknown: unknown });
    }
  });

  it('classifies a retired API version (426 NONEXISTENT_VERSION) as Crier\'s problem, not the content\'s', async () => {
    const a = await member();
    const body = { status: 426, code: 'NONEXISTENT_VERSION', message: 'Requested version 20240101 is not active' };
    sandbox.linkedin.core.addFault({ operation: CREATE, account: a.person, fault: { kind: 'status', status: 426, body } });
    const r = await linkedinConnector.publish(a.ctx, draft(unique('old version')));
    expect(!r.ok && r.error).toMatchObject({ category: 'permanent', code: 'PLATFORM_ERROR', platformCode: 'NONEXISTENT_VERSION', retryable: false });
  });

  it('has a simulator that refuses a retired or missing LinkedIn-Version and a missing Rest.li protocol header', async () => {
    const a = await member();
    const post = { author: a.person, commentary: unique('headers'), visibility: 'PUBLIC', distribution: { feedDistribution: 'MAIN_FEED' }, lifecycleState: 'PUBLISHED' };
    const token = a.ctx.credentials.accessToken;
    const old = await rest('/rest/posts', { method: 'POST', token, headers: { ...versioned, 'linkedin-version': '202401' }, body: post });
    expect(old).toMatchObject({ status: 426, body: { status: 426, code: 'NONEXISTENT_VERSION', message: 'Requested version 20240101 is not active' } });
    const none = await rest('/rest/posts', { method: 'POST', token, headers: { 'x-restli-protocol-version': '2.0.0' }, body: post });
    expect(none).toMatchObject({ status: 400, body: { code: 'VERSION_MISSING' } });
    const protocol = await rest('/rest/posts', { method: 'POST', token, headers: { 'linkedin-version': LINKEDIN_VERSION }, body: post });
    expect(protocol.status).toBe(400);
    const unknownField = await rest('/rest/posts', { method: 'POST', token, headers: versioned, body: { ...post, text: 'x' } });
    expect(unknownField).toMatchObject({ status: 422, body: { message: 'ERROR :: /text :: unrecognized field found but not allowed' } });
    const anonymous = await rest('/rest/posts', { method: 'POST', headers: versioned, body: post });
    expect(anonymous).toMatchObject({ status: 401, body: { serviceErrorCode: 65604, code: 'EMPTY_ACCESS_TOKEN' } });
    expect(postsOf(a.person)).toHaveLength(0);
  });

  it('reports an unreachable LinkedIn as transient with nothing sent', async () => {
    const a = await member();
    a.ctx.baseUrl = 'http://127.0.0.1:9';
    const r = await linkedinConnector.publish(a.ctx, draft(unique('unreachable')));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNREACHABLE', retryable: true });
    expect(!r.ok && r.error.outcomeUnknown).toBeFalsy();
  });
});
