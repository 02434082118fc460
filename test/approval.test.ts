// Approval: posts that need it wait in pending_approval (nothing publishes), a key with the `approve`
// scope approves (it publishes) or rejects with a reason (back to draft); reviewer links show the post per
// platform and take one decision, refusing a tampered, expired or used link.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settled, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier();
});
afterAll(async () => t?.stop());

const eventTypes = async (ws: Tenant) => (await t.sql.query('SELECT type FROM events WHERE workspace_id = $1 ORDER BY id', [ws.workspaceId])).rows.map((r) => r.type);
const records = (did: string) => [...(t.sandbox.bluesky.repos.get(did)?.values() ?? [])];

describe('approval', () => {
  it("holds every post of a workspace that requires approval until a key with the approve scope approves it", async () => {
    const ws = await t.workspace();
    expect((await t.operator.patch(`/v1/workspaces/${ws.workspaceId}`, { requires_approval: true })).body.requires_approval).toBe(true);
    const account = await ws.account();
    const did = (await ws.get(`/v1/accounts/${account}`)).body.external_id;
    const post = await ws.post('/v1/posts', { text: 'needs a yes', account_ids: [account] });
    expect(post.body).toMatchObject({ status: 'pending_approval', requires_approval: true, approval: null, publications: [{ status: 'pending_approval' }] });
    await new Promise((r) => setTimeout(r, 600)); // a worker poll or two: nothing may publish
    expect(records(did)).toEqual([]);

    // A read-write key cannot approve; an approve key can (and can read, not write).
    const writer = await ws.keyWithScopes(['read', 'write']);
    expect((await writer.post(`/v1/posts/${post.body.id}/approve`, {})).body.error.code).toBe('FORBIDDEN');
    const approver = await ws.keyWithScopes(['approve']);
    expect((await approver.post('/v1/posts', { text: 'x', account_ids: [account] })).body.error.code).toBe('FORBIDDEN');
    const approved = await approver.post(`/v1/posts/${post.body.id}/approve`, {});
    expect(approved.status).toBe(200);
    expect(approved.body.approval).toMatchObject({ decision: 'approved', by: expect.stringMatching(/^key_/) });
    const done = await settled(ws, post.body.id);
    expect(done.publications[0].status).toBe('published');
    expect(records(did)).toHaveLength(1);
    expect(await eventTypes(ws)).toEqual(expect.arrayContaining(['post.approval_requested', 'post.approved', 'publication.published']));
    // Deciding twice is refused.
    expect((await approver.post(`/v1/posts/${post.body.id}/approve`, {})).body.error.code).toBe('POST_NOT_PENDING_APPROVAL');
  });

  it('sends a rejected post back to draft with the reason; releasing it again asks for approval again', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const post = await ws.post('/v1/posts', { text: 'maybe not', account_ids: [account], requires_approval: true, scheduled_at: new Date(Date.now() + 3600_000).toISOString() });
    expect(post.body.status).toBe('pending_approval');
    const approver = await ws.keyWithScopes(['approve']);
    expect((await approver.post(`/v1/posts/${post.body.id}/reject`, {})).body.error.code).toBe('VALIDATION_FAILED');
    const rejected = await approver.post(`/v1/posts/${post.body.id}/reject`, { reason: 'wrong product name' });
    expect(rejected.body).toMatchObject({ status: 'draft', approval: { decision: 'rejected', reason: 'wrong product name' }, publications: [{ status: 'draft' }] });
    expect(await eventTypes(ws)).toContain('post.rejected');
    // Edited and released: it waits for a new decision.
    await ws.patch(`/v1/posts/${post.body.id}`, { text: 'the right name' });
    const again = await ws.post(`/v1/posts/${post.body.id}/publish`, {});
    expect(again.body).toMatchObject({ status: 'pending_approval', publications: [{ status: 'pending_approval' }] });
  });

  it('keeps the slot of a queued post while it waits, and publishes there once approved', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const q = await ws.post('/v1/queues', { name: 'q', timezone: 'UTC', timeslots: [{ day: 'monday', time: '10:00' }], account_ids: [account] });
    const first = await ws.post('/v1/posts', { text: 'first', queue_id: q.body.id, requires_approval: true });
    const second = await ws.post('/v1/posts', { text: 'second', queue_id: q.body.id });
    expect(first.body.status).toBe('pending_approval');
    const [a, b] = [(await ws.get(`/v1/posts/${first.body.id}`)).body, (await ws.get(`/v1/posts/${second.body.id}`)).body];
    expect(Date.parse(a.queue.slot_at)).toBeLessThan(Date.parse(b.queue.slot_at));
    const approved = await (await ws.keyWithScopes(['approve'])).post(`/v1/posts/${first.body.id}/approve`, {});
    expect(approved.body).toMatchObject({ status: 'scheduled', scheduled_at: a.scheduled_at, publications: [{ status: 'scheduled', next_attempt_at: a.scheduled_at }] });
  });
});

describe('reviewer links', () => {
  async function pendingPost(ws: Tenant) {
    const account = await ws.account();
    const post = await ws.post('/v1/posts', { text: 'for the reviewer', account_ids: [account], requires_approval: true, options: { bluesky: { text: 'Bluesky gets this shorter text' } } });
    const link = await ws.post(`/v1/posts/${post.body.id}/review_links`, { expires_in_hours: 24 });
    expect(link.status).toBe(201);
    return { postId: post.body.id as string, url: link.body.url as string, account };
  }
  const decide = (url: string, decision: string, reason = '') => fetch(url, { method: 'POST', body: new URLSearchParams({ decision, reason }) });

  it('shows the post as each platform gets it and takes one decision', async () => {
    const ws = await t.workspace();
    const { postId, url } = await pendingPost(ws);
    expect(url).toMatch(new RegExp(`^${t.url}/review/rvw_`));
    const page = await fetch(url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Bluesky gets this shorter text');
    expect(html).toContain('<form method="post">');

    const first = await decide(url, 'approved');
    expect(first.status).toBe(200);
    expect((await ws.get(`/v1/posts/${postId}`)).body.approval).toMatchObject({ decision: 'approved', by: expect.stringMatching(/^review_link:rvw_/) });
    expect((await decide(url, 'rejected', 'changed my mind')).status).toBe(409);
    expect((await fetch(url)).status).toBe(409);
  });

  it('refuses a tampered link (403) and an expired one (410), deciding nothing', async () => {
    const ws = await t.workspace();
    const { postId, url } = await pendingPost(ws);
    const last = url.at(-1)!;
    const tampered = `${url.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`;
    expect((await fetch(tampered)).status).toBe(403);
    expect((await decide(tampered, 'approved')).status).toBe(403);
    const id = url.split('/review/')[1]!.split('.')[0]!;
    await t.sql.query(`UPDATE review_links SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    expect((await fetch(url)).status).toBe(410);
    expect((await decide(url, 'approved')).status).toBe(410);
    expect((await ws.get(`/v1/posts/${postId}`)).body).toMatchObject({ status: 'pending_approval', approval: null });
  });

  it('needs a reason to reject', async () => {
    const ws = await t.workspace();
    const { postId, url } = await pendingPost(ws);
    expect((await decide(url, 'rejected')).status).toBe(400);
    expect((await decide(url, 'rejected', 'off-brand')).status).toBe(200);
    expect((await ws.get(`/v1/posts/${postId}`)).body).toMatchObject({ status: 'draft', approval: { decision: 'rejected', reason: 'off-brand' } });
  });
});
