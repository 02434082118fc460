// Aggregator providers end to end through the public API, against the Post for Me and LATE simulators:
// keys stored encrypted and never shown, the provider's connect page, accounts imported with their route,
// publishing with the route recorded, failover when the first provider answers 5xx, no second post when
// the first provider took the post but its answer was lost, the operator's key as the last fallback, and
// an error naming every route tried.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { providerConnector } from '../src/providers/connector.js';
import { baseCtx, textDraft } from './support/contract.js';
import { settled, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';

const OPERATOR_LATE_KEY = 'sk_sim_operator_late_key_for_tests';
let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier({ env: (sandbox) => ({ CRIER_RATE_LIMIT_PER_MINUTE: '100000', CRIER_LATE_URL: `${sandbox}/late/api/v1`, LATE_API_KEY: OPERATOR_LATE_KEY }) });
  // The operator's LATE account, with its own connected accounts.
  t.sandbox.late.keys.set(OPERATOR_LATE_KEY, { key: OPERATOR_LATE_KEY, projectId: 'proj_operator', profileId: 'prof_operator', accounts: new Map() });
}, 60_000);
afterAll(async () => t?.stop());
beforeEach(() => {
  t.sandbox.postforme.core.clearFaults();
  t.sandbox.late.core.clearFaults();
});

const put = (ws: Tenant, path: string, body: unknown) => ws.request('PUT', path, body);
const unique = (s: string) => `${s} ${Math.random().toString(36).slice(2, 8)}`;

/** Goes through the provider's connect page as the user's browser would; answers where it sent them back. */
async function connectOn(ws: Tenant, provider: 'postforme' | 'late', platform: string, username: string): Promise<URL> {
  const r = await ws.post(`/v1/providers/${provider}/connect`, { platform, redirect_url: 'https://app.example.com/connected' });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const page = await fetch(r.body.url);
  expect(page.status).toBe(200);
  const back = await fetch(r.body.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username, decision: 'allow' }), redirect: 'manual' });
  expect(back.status).toBe(302);
  return new URL(back.headers.get('location')!);
}

async function providerAccount(ws: Tenant, provider: 'postforme' | 'late', platform: string, username: string): Promise<string> {
  await connectOn(ws, provider, platform, username);
  const synced = await ws.post(`/v1/providers/${provider}/sync`);
  expect(synced.status, JSON.stringify(synced.body)).toBe(200);
  return synced.body.data.find((a: { username: string; platform: string }) => a.username === username && a.platform === platform).id;
}

const pfmPosts = (marker: string) => [...t.sandbox.postforme.posts.values()].filter((p) => p.external_id === marker);
const latePosts = (text: string) => [...t.sandbox.late.posts.values()].filter((p) => p.content === text);

describe('provider keys and accounts', () => {
  it('stores a key encrypted, shows only its last characters, and keeps workspaces apart', async () => {
    const ws = await t.workspace();
    const r = await put(ws, '/v1/providers/postforme', { api_key: 'pfm_live_secret_key_1234' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ provider: 'postforme', position: 1, sandbox: false, key_hint: '1234' });
    const listed = await ws.get('/v1/providers');
    expect(listed.body).toEqual({ data: [expect.objectContaining({ provider: 'postforme', key_hint: '1234' })], operator_fallback: ['late'] });
    expect(JSON.stringify(listed.body)).not.toContain('secret_key');
    const stored = await t.sql.query('SELECT api_key FROM provider_keys WHERE workspace_id = $1', [ws.workspaceId]);
    expect(Buffer.from(stored.rows[0].api_key).toString('latin1')).not.toContain('secret_key');
    const other = await t.workspace();
    expect((await other.get('/v1/providers')).body.data).toEqual([]);
    expect((await other.delete('/v1/providers/postforme')).status).toBe(404);
    expect((await put(ws, '/v1/providers/postforme', { api_key: 'x'.repeat(10), sandbox: true })).status).toBe(400);
    expect((await put(ws, '/v1/providers/nope', { sandbox: true })).status).toBe(400);
  });

  it('connects an account on the provider and imports it with its route; one the provider drops needs reconnecting', async () => {
    const ws = await t.workspace();
    expect((await put(ws, '/v1/providers/postforme', { sandbox: true })).status).toBe(201);
    const back = await connectOn(ws, 'postforme', 'linkedin', 'ada');
    expect(back.origin + back.pathname).toBe('https://app.example.com/connected');
    expect(back.searchParams.get('account_id')).toMatch(/^spc_/);
    const synced = await ws.post('/v1/providers/postforme/sync');
    expect(synced.body.data).toEqual([expect.objectContaining({ platform: 'linkedin', username: 'ada', route: 'provider:postforme', status: 'connected', sandbox: true })]);
    const id = synced.body.data[0].id;
    expect((await ws.post('/v1/providers/postforme/sync')).body.data.map((a: { id: string }) => a.id)).toEqual([id]);
    const key = [...t.sandbox.postforme.keys.values()].find((k) => [...k.accounts.values()].some((a) => a.username === 'ada'))!;
    key.accounts.get(back.searchParams.get('account_id')!)!.status = 'disconnected';
    await ws.post('/v1/providers/postforme/sync');
    expect((await ws.get(`/v1/accounts/${id}`)).body).toMatchObject({ status: 'reconnect_required' });
    expect((await (await t.workspace()).get(`/v1/accounts/${id}`)).status).toBe(404);
  });
});

describe('publishing through providers', () => {
  it('publishes through Post for Me and records the route', async () => {
    const ws = await t.workspace();
    await put(ws, '/v1/providers/postforme', { sandbox: true });
    const acct = await providerAccount(ws, 'postforme', 'linkedin', 'grace');
    const p = await ws.post('/v1/posts', { text: unique('Through Post for Me'), account_ids: [acct] });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const pub = (await settled(ws, p.body.id, 30_000)).publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', route: 'postforme:workspace' });
    expect(pub.url).toMatch(/^https:\/\/www\.linkedin\.com\/feed\/update\//);
    expect(pfmPosts(pub.id)).toHaveLength(1);
  }, 60_000);

  it('fails over to the second provider when the first answers 5xx', async () => {
    const ws = await t.workspace();
    await put(ws, '/v1/providers/postforme', { sandbox: true });
    await put(ws, '/v1/providers/late', { sandbox: true });
    const acct = await providerAccount(ws, 'postforme', 'x', 'hopper');
    await connectOn(ws, 'late', 'x', 'hopper');
    t.sandbox.postforme.core.addFault({ operation: 'create_post', fault: { kind: 'status', status: 503 } });
    const text = unique('Failing over');
    const p = await ws.post('/v1/posts', { text, account_ids: [acct] });
    const pub = (await settled(ws, p.body.id, 30_000)).publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', route: 'late:workspace', attempts: 1 });
    expect(pub.url).toMatch(/^https:\/\/x\.com\/hopper\/status\//);
    expect(pfmPosts(pub.id)).toHaveLength(0);
    expect(latePosts(text)).toHaveLength(1);
  }, 60_000);

  it('does not post twice when the first provider took the post but its answer was lost', async () => {
    const ws = await t.workspace();
    await put(ws, '/v1/providers/postforme', { sandbox: true });
    await put(ws, '/v1/providers/late', { sandbox: true });
    const acct = await providerAccount(ws, 'postforme', 'bluesky', 'lovelace.bsky.social');
    await connectOn(ws, 'late', 'bluesky', 'lovelace.bsky.social');
    // Longer than the publish timeout (2 s in tests): the post is made, the answer never arrives in time.
    t.sandbox.postforme.core.addFault({ operation: 'create_post', fault: { kind: 'accept_then_timeout', ms: 4_000 } });
    const text = unique('Answer lost');
    const p = await ws.post('/v1/posts', { text, account_ids: [acct] });
    const pub = (await settled(ws, p.body.id, 40_000)).publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', route: 'postforme:workspace' });
    expect(pub.attempts).toBeGreaterThanOrEqual(2);
    expect(pfmPosts(pub.id)).toHaveLength(1);
    expect(latePosts(text)).toHaveLength(0);
  }, 60_000);

  it('reads a provider back, and sends nothing anywhere else, when the worker died after the provider took the post', async () => {
    const ws = await t.workspace();
    await put(ws, '/v1/providers/postforme', { sandbox: true });
    await put(ws, '/v1/providers/late', { sandbox: true });
    const acct = await providerAccount(ws, 'postforme', 'linkedin', 'dead_worker_user');
    await connectOn(ws, 'late', 'linkedin', 'dead_worker_user');
    const text = unique('Worker died');
    const p = await ws.post('/v1/posts', { text, account_ids: [acct], scheduled_at: new Date(Date.now() + 3_600_000).toISOString() });
    const pub = p.body.publications[0].id as string;
    // What a worker that died mid-attempt leaves: the route checkpointed as sending, and the provider's post.
    const pfmAccount = (await t.sql.query('SELECT external_id FROM accounts WHERE id = $1', [acct])).rows[0].external_id.split(':')[1];
    const key = [...t.sandbox.postforme.keys.values()].find((k) => k.accounts.has(pfmAccount))!;
    const made = await fetch(`${t.sandbox.url}/postforme/v1/social-posts`, { method: 'POST', headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ caption: text, social_accounts: [pfmAccount], external_id: pub }) });
    expect(made.status).toBe(200);
    const checkpoint = { routes: { 'postforme:workspace': { state: 'sending', since: new Date().toISOString(), accountId: pfmAccount } } };
    await t.sql.query(`UPDATE publications SET status = 'publishing', attempts = 1, lease_owner = 'wrk_dead', lease_expires_at = now() - interval '1 second', checkpoint = $2 WHERE id = $1`, [pub, JSON.stringify(checkpoint)]);
    await t.sql.query(`UPDATE posts SET status = 'publishing' WHERE id = $1`, [p.body.id]);
    const done = (await settled(ws, p.body.id, 30_000)).publications[0];
    expect(done, JSON.stringify(done.error)).toMatchObject({ status: 'published', route: 'postforme:workspace' });
    expect(pfmPosts(pub)).toHaveLength(1);
    expect(latePosts(text)).toHaveLength(0);
  }, 60_000);

  it("falls back to the operator's key after the workspace's own routes fail", async () => {
    const ws = await t.workspace();
    await put(ws, '/v1/providers/postforme', { sandbox: true });
    const acct = await providerAccount(ws, 'postforme', 'threads', 'operator_fallback_user');
    t.sandbox.late.addAccount(t.sandbox.late.keys.get(OPERATOR_LATE_KEY)!, 'threads', 'operator_fallback_user');
    t.sandbox.postforme.core.addFault({ operation: 'create_post', fault: { kind: 'status', status: 502 } });
    const text = unique('Operator route');
    const p = await ws.post('/v1/posts', { text, account_ids: [acct] });
    const pub = (await settled(ws, p.body.id, 30_000)).publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', route: 'late:operator' });
    expect(latePosts(text)).toHaveLength(1);
  }, 60_000);

  it('fails with every route and its reason when all refuse, and reports a platform refusal without failing over', async () => {
    const ws = await t.workspace();
    await put(ws, '/v1/providers/postforme', { sandbox: true });
    await put(ws, '/v1/providers/late', { sandbox: true });
    const acct = await providerAccount(ws, 'postforme', 'facebook', 'refused_everywhere');
    t.sandbox.postforme.core.addFault({ operation: 'create_post', fault: { kind: 'status', status: 400, body: { statusCode: 400, message: 'caption is too long for facebook' } } });
    const p = await ws.post('/v1/posts', { text: unique('Refused'), account_ids: [acct] });
    const pub = (await settled(ws, p.body.id, 30_000)).publications[0];
    expect(pub.status).toBe('failed');
    expect(pub.error).toMatchObject({ code: 'PROVIDERS_FAILED', retryable: false });
    expect(pub.error.message).toContain("Post for Me (workspace's key): CONTENT_REJECTED");
    expect(pub.error.message).toContain('caption is too long');
    expect(pub.error.message).toContain("LATE (workspace's key)");
    expect(pub.error.message).toContain('not connected there');
    expect(pub.error.message).toContain("LATE (operator's key)");

    // Accepted by the provider, then refused by the platform: final, and no other route is tried.
    const [pfmAccount] = (await t.sql.query(`SELECT external_id FROM accounts WHERE id = $1`, [acct])).rows.map((r) => r.external_id.split(':')[1]);
    await fetch(`${t.sandbox.url}/postforme/_sim/accounts/${pfmAccount}/fail`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'The page is restricted from posting' }) });
    const q = await ws.post('/v1/posts', { text: unique('Refused by the platform'), account_ids: [acct] });
    const refused = (await settled(ws, q.body.id, 30_000)).publications[0];
    expect(refused).toMatchObject({ status: 'failed', error: expect.objectContaining({ code: 'CONTENT_REJECTED', retryable: false }) });
    expect(refused.error.message).toContain('The page is restricted from posting');
  }, 60_000);

  it('fails clearly, without retrying, when an account has no provider key anywhere', async () => {
    // This instance has the operator's LATE key, so every workspace has a route; a connector with none:
    const connector = providerConnector('linkedin', []);
    const ctx = { ...baseCtx(t.sandbox, 'linkedin', { provider: 'postforme', accountId: 'spc_1', platform: 'linkedin', username: 'nobody' }, []) };
    const r = await connector.publish(ctx as never, textDraft('no route'));
    expect(!r.ok && r.error).toMatchObject({ code: 'PROVIDER_NOT_CONFIGURED', category: 'permanent', retryable: false });
    expect(!r.ok && r.error.message).toContain('POSTFORME_API_KEY');
  });
});
