// Sandbox accounts: connect, list, disconnect — and what disconnecting does to scheduled publications.
import { PLATFORMS } from '../src/connectors/types.js';
import { getConnector } from '../src/connectors/registry.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settled, startTestCrier, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier();
});
afterAll(async () => t?.stop());

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

describe('sandbox accounts', () => {
  it('connects a sandbox Bluesky account backed by the simulator', async () => {
    const ws = await t.workspace();
    const r = await ws.post('/v1/accounts', { platform: 'bluesky', sandbox: true, username: 'carol' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ platform: 'bluesky', sandbox: true, status: 'connected', display_name: 'carol', status_reason: null });
    expect(r.body.username).toMatch(/^carol(-[0-9a-f]{6})?\.sandbox\.test$/);
    expect(r.body.external_id).toMatch(/^did:plc:/);
    expect(t.sandbox.bluesky.accounts.has(r.body.external_id)).toBe(true);
    expect((await ws.get(`/v1/accounts/${r.body.id}`)).body).toEqual(r.body);
    const list = await ws.get('/v1/accounts');
    expect(list.body).toEqual({ data: [r.body], next_cursor: null });
    const events = (await t.sql.query(`SELECT type, data FROM events WHERE workspace_id = $1 AND type = 'account.connected'`, [ws.workspaceId])).rows;
    expect(events).toHaveLength(1);
  });

  it('gives two workspaces with the same username two distinct platform accounts', async () => {
    const a = await (await t.workspace()).post('/v1/accounts', { platform: 'bluesky', sandbox: true, username: 'same' });
    const b = await (await t.workspace()).post('/v1/accounts', { platform: 'bluesky', sandbox: true, username: 'same' });
    expect(a.body.external_id).not.toBe(b.body.external_id);
  });

  it('refuses platforms that have no sandbox yet', async () => {
    const ws = await t.workspace();
    const without = PLATFORMS.find((p) => !getConnector(p)?.sandbox);
    expect(without, 'every platform has a sandbox now: this test has nothing left to check').toBeDefined();
    const r = await ws.post('/v1/accounts', { platform: without, sandbox: true, username: 'dave' });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('PLATFORM_NOT_SUPPORTED');
  });

  it('lists accounts page by page and by status', async () => {
    const ws = await t.workspace();
    const ids = [await ws.account(), await ws.account(), await ws.account()];
    const p1 = await ws.get('/v1/accounts?limit=2');
    const p2 = await ws.get(`/v1/accounts?limit=2&cursor=${p1.body.next_cursor}`);
    expect([...p1.body.data, ...p2.body.data].map((a: any) => a.id)).toEqual([...ids].reverse());
    expect(p2.body.next_cursor).toBeNull();
    await ws.delete(`/v1/accounts/${ids[0]}`);
    expect((await ws.get('/v1/accounts?status=disconnected')).body.data.map((a: any) => a.id)).toEqual([ids[0]]);
  });
});

describe('disconnecting an account', () => {
  it('fails its scheduled publications with ACCOUNT_DISCONNECTED and keeps other accounts publishing', async () => {
    const ws = await t.workspace();
    const gone = await ws.account();
    const stays = await ws.account();
    const soon = await ws.post('/v1/posts', { text: 'two targets', account_ids: [gone, stays], scheduled_at: inSeconds(2) });
    const onlyGone = await ws.post('/v1/posts', { text: 'one target', account_ids: [gone], scheduled_at: inSeconds(3600) });
    const draft = await ws.post('/v1/posts', { text: 'a draft', account_ids: [gone], draft: true });

    const r = await ws.delete(`/v1/accounts/${gone}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'disconnected', status_reason: 'disconnected through the API' });

    const failed = (await ws.get(`/v1/posts/${onlyGone.body.id}`)).body;
    expect(failed.status).toBe('failed');
    expect(failed.publications[0]).toMatchObject({ status: 'failed', error: { code: 'ACCOUNT_DISCONNECTED', category: 'revoked', retryable: false } });

    const mixed = await settled(ws, soon.body.id);
    expect(mixed.status).toBe('partially_published');
    expect(mixed.publications.find((p: any) => p.account_id === stays).status).toBe('published');
    expect(mixed.publications.find((p: any) => p.account_id === gone).error.code).toBe('ACCOUNT_DISCONNECTED');

    // A draft is kept, but cannot be released to the disconnected account.
    expect((await ws.get(`/v1/posts/${draft.body.id}`)).body.status).toBe('draft');
    const release = await ws.post(`/v1/posts/${draft.body.id}/publish`);
    expect(release.status).toBe(409);
    expect(release.body.error.code).toBe('ACCOUNT_NOT_CONNECTED');

    const creds = (await t.sql.query('SELECT credentials FROM accounts WHERE id = $1', [gone])).rows[0].credentials;
    expect(creds).toBeNull();
    const types = (await t.sql.query(`SELECT type FROM events WHERE workspace_id = $1 AND type IN ('account.disconnected', 'publication.failed') ORDER BY id`, [ws.workspaceId])).rows.map((x) => x.type);
    expect(types.filter((x) => x === 'publication.failed')).toHaveLength(2);
    expect(types).toContain('account.disconnected');
  });

  it('refuses new posts to a disconnected account', async () => {
    const ws = await t.workspace();
    const id = await ws.account();
    await ws.delete(`/v1/accounts/${id}`);
    const r = await ws.post('/v1/posts', { text: 'x', account_ids: [id] });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'ACCOUNT_NOT_CONNECTED', details: [{ account_id: id, status: 'disconnected' }] });
  });

  it('is idempotent', async () => {
    const ws = await t.workspace();
    const id = await ws.account();
    const first = await ws.delete(`/v1/accounts/${id}`);
    const second = await ws.delete(`/v1/accounts/${id}`);
    expect(second.status).toBe(200);
    expect(second.body.status).toBe('disconnected');
    expect(second.body.updated_at).toBe(first.body.updated_at);
  });
});
