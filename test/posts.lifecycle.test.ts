// Every transition of the publication lifecycle, driven through the public API.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { settled, startTestCrier, waitFor, type Tenant, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier();
});
afterAll(async () => t?.stop());
beforeEach(() => t.sandbox.bluesky.core.clearFaults());

const CREATE = 'com.atproto.repo.createRecord';
const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

async function setup(accounts = 1): Promise<{ ws: Tenant; ids: string[] }> {
  const ws = await t.workspace();
  const ids: string[] = [];
  for (let i = 0; i < accounts; i++) ids.push(await ws.account());
  return { ws, ids };
}

const didOf = async (ws: Tenant, id: string) => (await ws.get(`/v1/accounts/${id}`)).body.external_id as string;
const published = (did: string) => [...(t.sandbox.bluesky.repos.get(did)?.values() ?? [])];

describe('drafts', () => {
  it('keeps a draft without publishing it, then publishes it on /publish', async () => {
    const { ws, ids } = await setup();
    const draft = await ws.post('/v1/posts', { text: 'draft first', account_ids: ids, draft: true });
    expect(draft.status).toBe(201);
    expect(draft.body.status).toBe('draft');
    expect(draft.body.scheduled_at).toBeNull();
    expect(draft.body.publications[0]).toMatchObject({ status: 'draft', next_attempt_at: null });
    await new Promise((r) => setTimeout(r, 600)); // a worker poll or three
    expect((await ws.get(`/v1/posts/${draft.body.id}`)).body.status).toBe('draft');
    expect(published(await didOf(ws, ids[0]!))).toHaveLength(0);

    const released = await ws.post(`/v1/posts/${draft.body.id}/publish`);
    expect(released.status).toBe(200);
    expect(released.body.status).toBe('scheduled');
    const post = await settled(ws, draft.body.id);
    expect(post.status).toBe('published');
  });

  it('schedules a draft with /schedule and keeps its intended time until then', async () => {
    const { ws, ids } = await setup();
    const at = inSeconds(3600);
    const draft = await ws.post('/v1/posts', { text: 'draft with a time', account_ids: ids, draft: true, scheduled_at: at });
    expect(draft.body).toMatchObject({ status: 'draft', scheduled_at: at });
    expect(draft.body.publications[0].next_attempt_at).toBeNull();
    const soon = inSeconds(1);
    const scheduled = await ws.post(`/v1/posts/${draft.body.id}/schedule`, { scheduled_at: soon });
    expect(scheduled.status).toBe(200);
    expect(scheduled.body).toMatchObject({ status: 'scheduled', scheduled_at: soon });
    expect(scheduled.body.publications[0]).toMatchObject({ status: 'scheduled', next_attempt_at: soon });
    expect((await settled(ws, draft.body.id)).status).toBe('published');
  });
});

describe('scheduled posts', () => {
  it('moves a scheduled post to another time', async () => {
    const { ws, ids } = await setup();
    const created = await ws.post('/v1/posts', { text: 'move me', account_ids: ids, scheduled_at: inSeconds(3600) });
    const later = inSeconds(7200);
    const moved = await ws.post(`/v1/posts/${created.body.id}/schedule`, { scheduled_at: later });
    expect(moved.status).toBe(200);
    expect(moved.body.scheduled_at).toBe(later);
    expect(moved.body.publications[0].next_attempt_at).toBe(later);
    const events = (await t.sql.query(`SELECT type FROM events WHERE data->>'post_id' = $1 ORDER BY id`, [created.body.id])).rows.map((r) => r.type);
    expect(events).toEqual(['post.created', 'post.scheduled', 'post.scheduled']);
  });

  it('publishes a scheduled post early on /publish', async () => {
    const { ws, ids } = await setup();
    const created = await ws.post('/v1/posts', { text: 'early', account_ids: ids, scheduled_at: inSeconds(3600) });
    await ws.post(`/v1/posts/${created.body.id}/publish`);
    expect((await settled(ws, created.body.id)).status).toBe('published');
  });

  it('cancels a scheduled post on DELETE and never publishes it', async () => {
    const { ws, ids } = await setup();
    const created = await ws.post('/v1/posts', { text: 'cancel me', account_ids: ids, scheduled_at: inSeconds(1) });
    const cancelled = await ws.delete(`/v1/posts/${created.body.id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(cancelled.body.publications[0]).toMatchObject({ status: 'cancelled', next_attempt_at: null });
    expect(cancelled.body.publications[0].finished_at).not.toBeNull();
    await new Promise((r) => setTimeout(r, 1500));
    expect((await ws.get(`/v1/posts/${created.body.id}`)).body.status).toBe('cancelled');
    expect(published(await didOf(ws, ids[0]!))).toHaveLength(0);
    // Deleting again changes nothing and still answers with the post.
    const again = await ws.delete(`/v1/posts/${created.body.id}`);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('cancelled');
  });

  it('cancels a draft on DELETE', async () => {
    const { ws, ids } = await setup();
    const draft = await ws.post('/v1/posts', { text: 'drop', account_ids: ids, draft: true });
    expect((await ws.delete(`/v1/posts/${draft.body.id}`)).body.status).toBe('cancelled');
  });

  it('refuses PATCH on a cancelled post, even with new accounts', async () => {
    const { ws, ids } = await setup(2);
    const created = await ws.post('/v1/posts', { text: 'final', account_ids: [ids[0]], scheduled_at: inSeconds(600) });
    await ws.delete(`/v1/posts/${created.body.id}`);
    for (const body of [{ text: 'changed' }, { account_ids: [ids[1]] }]) {
      const r = await ws.patch(`/v1/posts/${created.body.id}`, body);
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('POST_NOT_EDITABLE');
    }
    expect((await ws.get(`/v1/posts/${created.body.id}`)).body).toMatchObject({ status: 'cancelled', text: 'final' });
  });

  it('refuses /publish and /schedule on a cancelled post', async () => {
    const { ws, ids } = await setup();
    const created = await ws.post('/v1/posts', { text: 'gone', account_ids: ids, scheduled_at: inSeconds(600) });
    await ws.delete(`/v1/posts/${created.body.id}`);
    expect((await ws.post(`/v1/posts/${created.body.id}/publish`)).body.error.code).toBe('POST_NOT_EDITABLE');
    expect((await ws.post(`/v1/posts/${created.body.id}/schedule`, { scheduled_at: inSeconds(60) })).body.error.code).toBe('POST_NOT_EDITABLE');
  });
});

describe('editing', () => {
  it('changes text and options of a scheduled post, validated against the platform', async () => {
    const { ws, ids } = await setup();
    const created = await ws.post('/v1/posts', { text: 'v1', account_ids: ids, scheduled_at: inSeconds(600) });
    const patched = await ws.patch(`/v1/posts/${created.body.id}`, { text: 'v2', options: { bluesky: { langs: ['de'] } } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ text: 'v2', options: { bluesky: { langs: ['de'] } }, status: 'scheduled' });
    const tooLong = await ws.patch(`/v1/posts/${created.body.id}`, { text: 'x'.repeat(301) });
    expect(tooLong.status).toBe(422);
    expect(tooLong.body.error.code).toBe('CONTENT_INVALID');
    expect((await ws.get(`/v1/posts/${created.body.id}`)).body.text).toBe('v2');
    // The platform receives the edited text and options.
    await ws.post(`/v1/posts/${created.body.id}/publish`);
    const post = await settled(ws, created.body.id);
    const record = published(await didOf(ws, ids[0]!))[0]!;
    expect(record.value).toMatchObject({ text: 'v2', langs: ['de'] });
    expect(post.publications[0].status).toBe('published');
  });

  it('adds and removes target accounts, keeping the schedule', async () => {
    const { ws, ids } = await setup(3);
    const at = inSeconds(600);
    const created = await ws.post('/v1/posts', { text: 'targets', account_ids: [ids[0], ids[1]], scheduled_at: at });
    const patched = await ws.patch(`/v1/posts/${created.body.id}`, { account_ids: [ids[1], ids[2]] });
    expect(patched.status).toBe(200);
    expect(patched.body.publications.map((p: any) => p.account_id).sort()).toEqual([ids[1], ids[2]].sort());
    for (const p of patched.body.publications) expect(p).toMatchObject({ status: 'scheduled', scheduled_at: at, next_attempt_at: at });
    // The publication kept for ids[1] is the same object as before.
    const kept = created.body.publications.find((p: any) => p.account_id === ids[1]).id;
    expect(patched.body.publications.map((p: any) => p.id)).toContain(kept);
  });

  it('moves a scheduled post with PATCH scheduled_at, and refuses clearing its time', async () => {
    const { ws, ids } = await setup();
    const created = await ws.post('/v1/posts', { text: 'patch time', account_ids: ids, scheduled_at: inSeconds(600) });
    const later = inSeconds(1200);
    const moved = await ws.patch(`/v1/posts/${created.body.id}`, { scheduled_at: later });
    expect(moved.body.publications[0].next_attempt_at).toBe(later);
    const cleared = await ws.patch(`/v1/posts/${created.body.id}`, { scheduled_at: null });
    expect(cleared.status).toBe(400);
    expect(cleared.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('refuses to edit, publish or reschedule once publishing has started, and lets the attempt finish', async () => {
    const { ws, ids } = await setup();
    const did = await didOf(ws, ids[0]!);
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: did, times: 1, fault: { kind: 'latency', ms: 1500 } });
    const created = await ws.post('/v1/posts', { text: 'in flight', account_ids: ids });
    await waitFor(async () => ((await ws.get(`/v1/posts/${created.body.id}`)).body.publications[0].status === 'publishing' ? true : undefined));
    const patch = await ws.patch(`/v1/posts/${created.body.id}`, { text: 'too late' });
    expect(patch.status).toBe(409);
    expect(patch.body.error.code).toBe('POST_NOT_EDITABLE');
    expect(patch.body.error.details[0]).toMatchObject({ status: 'publishing' });
    expect((await ws.post(`/v1/posts/${created.body.id}/publish`)).status).toBe(409);
    // DELETE cannot stop a request already on its way: it cancels nothing and the outcome is reported.
    const del = await ws.delete(`/v1/posts/${created.body.id}`);
    expect(del.status).toBe(200);
    expect(del.body.publications[0].status).toBe('publishing');
    const post = await settled(ws, created.body.id);
    expect(post.publications[0].status).toBe('published');
    expect(published(did)[0]!.value['text']).toBe('in flight');
  });

  it('refuses to edit a published post', async () => {
    const { ws, ids } = await setup();
    const created = await ws.post('/v1/posts', { text: 'done', account_ids: ids });
    await settled(ws, created.body.id);
    expect((await ws.patch(`/v1/posts/${created.body.id}`, { text: 'again' })).body.error.code).toBe('POST_NOT_EDITABLE');
    expect((await ws.post(`/v1/posts/${created.body.id}/schedule`, { scheduled_at: inSeconds(60) })).body.error.code).toBe('POST_NOT_EDITABLE');
    const del = await ws.delete(`/v1/posts/${created.body.id}`);
    expect(del.body.status).toBe('published'); // what is published stays published
  });
});

describe('retrying publications', () => {
  it('cancels a publication waiting to retry, and it never publishes', async () => {
    const { ws, ids } = await setup();
    const did = await didOf(ws, ids[0]!);
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: did, times: 1, fault: { kind: 'status', status: 503, headers: { 'retry-after': '30' } } });
    const created = await ws.post('/v1/posts', { text: 'retry later', account_ids: ids });
    const retrying = await waitFor(async () => {
      const p = (await ws.get(`/v1/posts/${created.body.id}`)).body;
      return p.publications[0].status === 'retrying' ? p : undefined;
    });
    expect(retrying.status).toBe('publishing');
    expect(retrying.publications[0].error).toMatchObject({ code: 'PLATFORM_UNAVAILABLE', retryable: true });
    expect(new Date(retrying.publications[0].next_attempt_at).getTime()).toBeGreaterThan(Date.now() + 20_000);
    const cancelled = await ws.delete(`/v1/posts/${created.body.id}`);
    expect(cancelled.body.publications[0].status).toBe('cancelled');
    expect(cancelled.body.status).toBe('cancelled');
    const types = (await t.sql.query(`SELECT type FROM events WHERE data->>'post_id' = $1 ORDER BY id`, [created.body.id])).rows.map((r) => r.type);
    expect(types).toEqual(['post.created', 'post.scheduled', 'publication.retrying', 'post.completed', 'post.deleted']);
  });
});

describe('post status', () => {
  it('is partially_published when one account publishes and another fails', async () => {
    const { ws, ids } = await setup(2);
    const bad = await didOf(ws, ids[1]!);
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: bad, times: 1, fault: { kind: 'status', status: 400, body: { error: 'InvalidRequest', message: 'nope' } } });
    const created = await ws.post('/v1/posts', { text: 'half', account_ids: ids });
    const post = await settled(ws, created.body.id);
    expect(post.status).toBe('partially_published');
    const byAccount = Object.fromEntries(post.publications.map((p: any) => [p.account_id, p]));
    expect(byAccount[ids[0]!].status).toBe('published');
    expect(byAccount[ids[1]!]).toMatchObject({ status: 'failed', error: { code: 'CONTENT_REJECTED', platform_code: 'InvalidRequest' } });
    const completed = (await t.sql.query(`SELECT data FROM events WHERE type = 'post.completed' AND data->>'post_id' = $1`, [created.body.id])).rows;
    expect(completed).toEqual([{ data: { post_id: created.body.id, status: 'partially_published', summary: { published: 1, failed: 1 } } }]);
  });

  it('uses the per-platform text override', async () => {
    const { ws, ids } = await setup();
    const long = 'y'.repeat(400);
    const created = await ws.post('/v1/posts', { text: long, account_ids: ids, options: { bluesky: { text: 'short for bluesky' } } });
    expect(created.status).toBe(201);
    await settled(ws, created.body.id);
    expect(published(await didOf(ws, ids[0]!))[0]!.value['text']).toBe('short for bluesky');
  });
});

describe('listing', () => {
  it('pages through posts newest first without gaps or repeats', async () => {
    const { ws, ids } = await setup();
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await ws.post('/v1/posts', { text: `p${i}`, account_ids: ids, draft: true })).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await ws.get(`/v1/posts?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.data.map((p: any) => p.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());
  });

  it('filters by status, account and time window', async () => {
    const { ws, ids } = await setup(2);
    const soon = await ws.post('/v1/posts', { text: 'a', account_ids: [ids[0]], scheduled_at: inSeconds(3600) });
    const later = await ws.post('/v1/posts', { text: 'b', account_ids: [ids[1]], scheduled_at: inSeconds(7200) });
    const draft = await ws.post('/v1/posts', { text: 'c', account_ids: ids, draft: true });
    const list = async (q: string) => (await ws.get(`/v1/posts?${q}`)).body.data.map((p: any) => p.id);
    expect(await list('status=scheduled')).toEqual([later.body.id, soon.body.id]);
    expect(await list('status=draft')).toEqual([draft.body.id]);
    expect(await list(`account_id=${ids[0]}`)).toEqual([draft.body.id, soon.body.id]);
    expect(await list(`from=${encodeURIComponent(inSeconds(5400))}`)).toEqual([later.body.id]);
    expect(await list(`to=${encodeURIComponent(inSeconds(5400))}&status=scheduled`)).toEqual([soon.body.id]);
  });
});
