// Idempotency-Key: a retried create replays the first response and creates nothing more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCrier, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier();
});
afterAll(async () => t?.stop());

const countPosts = async (workspaceId: string) =>
  (await t.sql.query('SELECT count(*)::int AS n FROM posts WHERE workspace_id = $1', [workspaceId])).rows[0].n as number;

describe('Idempotency-Key on POST /v1/posts', () => {
  it('replays the first response for the same key and body, creating one post', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const body = { text: 'once', account_ids: [account], draft: true };
    const first = await ws.post('/v1/posts', body, { 'idempotency-key': 'k-1' });
    const second = await ws.post('/v1/posts', body, { 'idempotency-key': 'k-1' });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await countPosts(ws.workspaceId)).toBe(1);
  });

  it('treats the same body with keys in another order as the same request', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const a = await ws.post('/v1/posts', '{"text":"order","account_ids":["' + account + '"],"draft":true}', { 'idempotency-key': 'k-order' });
    const b = await ws.post('/v1/posts', '{"draft":true,"account_ids":["' + account + '"],"text":"order"}', { 'idempotency-key': 'k-order' });
    expect(b.body.id).toBe(a.body.id);
  });

  it('answers 409 for the same key with another body, and changes nothing', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    await ws.post('/v1/posts', { text: 'first', account_ids: [account], draft: true }, { 'idempotency-key': 'k-2' });
    const other = await ws.post('/v1/posts', { text: 'second', account_ids: [account], draft: true }, { 'idempotency-key': 'k-2' });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await countPosts(ws.workspaceId)).toBe(1);
  });

  it('answers 409 for the same key on another route', async () => {
    const ws = await t.workspace();
    await ws.post('/v1/accounts', { platform: 'bluesky', sandbox: true, username: 'idem' }, { 'idempotency-key': 'k-route' });
    const r = await ws.post('/v1/posts', { text: 'x', account_ids: ['acct_01m81hnzpbf27s3kx522wn70fq'] }, { 'idempotency-key': 'k-route' });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('creates exactly one post when the same request arrives many times at once', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const body = { text: 'racing', account_ids: [account], draft: true };
    const responses = await Promise.all(Array.from({ length: 12 }, () => ws.post('/v1/posts', body, { 'idempotency-key': 'k-race' })));
    expect(responses.map((r) => r.status)).toEqual(Array(12).fill(201));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(await countPosts(ws.workspaceId)).toBe(1);
  });

  it('keeps keys per workspace: another workspace may use the same key', async () => {
    const a = await t.workspace();
    const b = await t.workspace();
    const ra = await a.post('/v1/posts', { text: 'a', account_ids: [await a.account()], draft: true }, { 'idempotency-key': 'shared' });
    const rb = await b.post('/v1/posts', { text: 'b', account_ids: [await b.account()], draft: true }, { 'idempotency-key': 'shared' });
    expect(rb.status).toBe(201);
    expect(rb.body.id).not.toBe(ra.body.id);
    expect(rb.body.text).toBe('b');
  });

  it('does not spend the key on a request that failed validation', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const bad = await ws.post('/v1/posts', { text: 'z'.repeat(301), account_ids: [account] }, { 'idempotency-key': 'k-3' });
    expect(bad.status).toBe(422);
    const good = await ws.post('/v1/posts', { text: 'fixed', account_ids: [account], draft: true }, { 'idempotency-key': 'k-3' });
    expect(good.status).toBe(201);
  });

  it('forgets a key after 24 hours', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const body = { text: 'old key', account_ids: [account], draft: true };
    const first = await ws.post('/v1/posts', body, { 'idempotency-key': 'k-old' });
    await t.sql.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE scope = $1 AND key = 'k-old'`, [ws.workspaceId]);
    const second = await ws.post('/v1/posts', body, { 'idempotency-key': 'k-old' });
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
  });

  it('rejects an unusable key with a 400', async () => {
    const ws = await t.workspace();
    const r = await ws.post('/v1/posts', { text: 'x', account_ids: [await ws.account()] }, { 'idempotency-key': 'x'.repeat(256) });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('publishes a replayed publish-now post only once', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const body = { text: 'publish once', account_ids: [account] };
    const first = await ws.post('/v1/posts', body, { 'idempotency-key': 'k-pub' });
    await ws.post('/v1/posts', body, { 'idempotency-key': 'k-pub' });
    await new Promise((r) => setTimeout(r, 800));
    const did = (await ws.get(`/v1/accounts/${account}`)).body.external_id;
    const records = [...t.sandbox.bluesky.repos.get(did)!.values()];
    expect(records.map((r) => r.value['text'])).toEqual(['publish once']);
    expect((await ws.get(`/v1/posts/${first.body.id}`)).body.status).toBe('published');
  });
});

describe('Idempotency-Key on other creating routes', () => {
  it('creates one workspace for a replayed operator request', async () => {
    const r1 = await t.operator.post('/v1/workspaces', { name: 'idem ws' }, { 'idempotency-key': 'ws-1' });
    const r2 = await t.operator.post('/v1/workspaces', { name: 'idem ws' }, { 'idempotency-key': 'ws-1' });
    expect(r2.body.id).toBe(r1.body.id);
  });

  it('creates one sandbox account for a replayed request', async () => {
    const ws = await t.workspace();
    const body = { platform: 'bluesky', sandbox: true, username: 'once' };
    const r1 = await ws.post('/v1/accounts', body, { 'idempotency-key': 'acct-1' });
    const r2 = await ws.post('/v1/accounts', body, { 'idempotency-key': 'acct-1' });
    expect(r2.body.id).toBe(r1.body.id);
    expect((await ws.get('/v1/accounts')).body.data).toHaveLength(1);
  });
});
