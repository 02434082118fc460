// Queues through the API on a clock the test moves (Crier's clock; the database's own time is today, so a
// slot in 2027 is never due to the worker): posts take the next free slot by priority and age, jitter is
// chosen once, removals and releases close the gaps, pinned posts stay, changes of slots or zone
// rearrange, a paused queue publishes nothing and a resumed one re-slots what passed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCrier, type Tenant, type TestCrier } from './support/harness.js';

let t: TestCrier;
let nowMs = Date.parse('2027-03-24T12:00:00Z'); // a Wednesday; Berlin changes to summer time on Sunday the 28th
const clock = { now: () => new Date(nowMs) };
beforeAll(async () => {
  t = await startTestCrier({ clock });
});
afterAll(async () => t?.stop());

const DAILY_9 = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'].map((day) => ({ day, time: '09:00' }));

async function queueWith(ws: Tenant, extra: Record<string, unknown> = {}) {
  const account = await ws.account();
  const q = await ws.post('/v1/queues', { name: 'daily', timezone: 'Europe/Berlin', timeslots: DAILY_9, account_ids: [account], ...extra });
  expect(q.status).toBe(201);
  return { id: q.body.id as string, account };
}
const add = async (ws: Tenant, queueId: string, text: string, extra: Record<string, unknown> = {}) => {
  const r = await ws.post('/v1/posts', { text, queue_id: queueId, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
};
const slotOf = async (ws: Tenant, postId: string) => (await ws.get(`/v1/posts/${postId}`)).body.queue.slot_at as string;
const slotsOf = async (ws: Tenant, ids: string[]) => Promise.all(ids.map((id) => slotOf(ws, id)));

describe('queues', () => {
  it('gives posts the next free slots in order, a high-priority post the first, at 09:00 Berlin time across the DST change', async () => {
    const ws = await t.workspace();
    const q = await queueWith(ws);
    const a = await add(ws, q.id, 'first');
    const b = await add(ws, q.id, 'second');
    const c = await add(ws, q.id, 'third');
    const d = await add(ws, q.id, 'fourth', { priority: 'low' });
    expect(await slotsOf(ws, [a, b, c, d])).toEqual(['2027-03-25T08:00:00.000Z', '2027-03-26T08:00:00.000Z', '2027-03-27T08:00:00.000Z', '2027-03-28T07:00:00.000Z']);
    const post = (await ws.get(`/v1/posts/${a}`)).body;
    expect(post).toMatchObject({ status: 'scheduled', scheduled_at: '2027-03-25T08:00:00.000Z', queue: { id: q.id, priority: 'medium', pinned: false } });
    expect(post.publications[0]).toMatchObject({ account_id: q.account, status: 'scheduled', next_attempt_at: '2027-03-25T08:00:00.000Z' });

    const urgent = await add(ws, q.id, 'urgent', { priority: 'high' });
    expect(await slotsOf(ws, [urgent, a, b, c, d])).toEqual(['2027-03-25T08:00:00.000Z', '2027-03-26T08:00:00.000Z', '2027-03-27T08:00:00.000Z', '2027-03-28T07:00:00.000Z', '2027-03-29T07:00:00.000Z']);

    const slots = (await ws.get(`/v1/queues/${q.id}/slots?from=2027-03-24T00:00:00Z&to=2027-03-31T00:00:00Z`)).body.data;
    expect(slots.map((s: any) => [s.local, s.post_id])).toEqual([
      ['2027-03-24T09:00:00+01:00', null],
      ['2027-03-25T09:00:00+01:00', urgent],
      ['2027-03-26T09:00:00+01:00', a],
      ['2027-03-27T09:00:00+01:00', b],
      ['2027-03-28T09:00:00+02:00', c],
      ['2027-03-29T09:00:00+02:00', d],
      ['2027-03-30T09:00:00+02:00', null],
    ]);
  });

  it('closes the gap when a post is deleted or published now, and keeps a pinned post where it is', async () => {
    const ws = await t.workspace();
    const q = await queueWith(ws);
    const pinned = await add(ws, q.id, 'pinned', { scheduled_at: '2027-03-26T09:00:00+01:00' });
    const a = await add(ws, q.id, 'a');
    const b = await add(ws, q.id, 'b');
    const c = await add(ws, q.id, 'c');
    // The pinned post holds the 26th; the others go around it.
    expect(await slotsOf(ws, [pinned, a, b, c])).toEqual(['2027-03-26T08:00:00.000Z', '2027-03-25T08:00:00.000Z', '2027-03-27T08:00:00.000Z', '2027-03-28T07:00:00.000Z']);
    expect((await ws.delete(`/v1/posts/${a}`)).status).toBe(200);
    expect(await slotsOf(ws, [b, c])).toEqual(['2027-03-25T08:00:00.000Z', '2027-03-27T08:00:00.000Z']);
    const released = await ws.post(`/v1/posts/${b}/publish`, {});
    expect(released.body.queue).toBeNull();
    expect(await slotsOf(ws, [pinned, c])).toEqual(['2027-03-26T08:00:00.000Z', '2027-03-25T08:00:00.000Z']);
    // Rescheduling a queued post pins it at its new time.
    const moved = await ws.post(`/v1/posts/${c}/schedule`, { scheduled_at: '2027-04-02T18:30:00+02:00' });
    expect(moved.body).toMatchObject({ scheduled_at: '2027-04-02T16:30:00.000Z', queue: { pinned: true } });
  });

  it('chooses the jitter once, within the range, and keeps it when the queue is rearranged', async () => {
    const ws = await t.workspace();
    const q = await queueWith(ws, { jitter_minutes: 30 });
    const ids = [await add(ws, q.id, 'j1'), await add(ws, q.id, 'j2'), await add(ws, q.id, 'j3')];
    const before = await Promise.all(ids.map(async (id) => (await ws.get(`/v1/posts/${id}`)).body));
    for (const p of before) expect(Math.abs(Date.parse(p.scheduled_at) - Date.parse(p.queue.slot_at))).toBeLessThanOrEqual(30 * 60_000);
    await add(ws, q.id, 'jumps the line', { priority: 'high' });
    const after = await Promise.all(ids.map(async (id) => (await ws.get(`/v1/posts/${id}`)).body));
    for (let i = 0; i < ids.length; i++) {
      expect(after[i].queue.slot_at).not.toBe(before[i].queue.slot_at);
      expect(Date.parse(after[i].scheduled_at) - Date.parse(after[i].queue.slot_at)).toBe(Date.parse(before[i].scheduled_at) - Date.parse(before[i].queue.slot_at));
    }
  });

  it('rearranges when the slots or the time zone change', async () => {
    const ws = await t.workspace();
    const q = await queueWith(ws);
    const a = await add(ws, q.id, 'a');
    const b = await add(ws, q.id, 'b');
    const patched = await ws.patch(`/v1/queues/${q.id}`, { timeslots: [{ day: 'friday', time: '17:30' }], timezone: 'America/New_York' });
    expect(patched.status).toBe(200);
    // Fridays 17:30 in New York: the 26th (EDT since the 14th), then April 2nd.
    expect(await slotsOf(ws, [a, b])).toEqual(['2027-03-26T21:30:00.000Z', '2027-04-02T21:30:00.000Z']);
  });

  it('publishes nothing while paused, and re-slots what passed when resumed', async () => {
    const ws = await t.workspace();
    const q = await queueWith(ws);
    const a = await add(ws, q.id, 'a');
    const b = await add(ws, q.id, 'b');
    const paused = await ws.post(`/v1/queues/${q.id}/pause`, {});
    expect(paused.body.paused).toBe(true);
    for (const id of [a, b]) expect((await ws.get(`/v1/posts/${id}`)).body.publications[0].next_attempt_at).toBeNull();
    // Two days pass while paused: the first two slots are gone.
    const saved = nowMs;
    nowMs = Date.parse('2027-03-26T10:00:00Z');
    try {
      const resumed = await ws.post(`/v1/queues/${q.id}/resume`, {});
      expect(resumed.body.paused).toBe(false);
      expect(await slotsOf(ws, [a, b])).toEqual(['2027-03-27T08:00:00.000Z', '2027-03-28T07:00:00.000Z']);
      expect((await ws.get(`/v1/posts/${a}`)).body.publications[0].next_attempt_at).toBe('2027-03-27T08:00:00.000Z');
    } finally {
      nowMs = saved;
    }
  });

  it('refuses what makes no sense, and a queue that still holds posts cannot be deleted', async () => {
    const ws = await t.workspace();
    const q = await queueWith(ws);
    expect((await ws.post('/v1/posts', { text: 'x', queue_id: 'que_01jd8x0000000000000000000' })).body.error.code).toBe('QUEUE_NOT_FOUND');
    expect((await ws.post('/v1/posts', { text: 'x', account_ids: [q.account], priority: 'high' })).body.error.code).toBe('VALIDATION_FAILED');
    expect((await ws.post('/v1/posts', { text: 'x', queue_id: q.id, draft: true })).body.error.code).toBe('VALIDATION_FAILED');
    expect((await ws.post('/v1/queues', { name: 'bad', timezone: 'Mars/Olympus', timeslots: DAILY_9 })).body.error.code).toBe('TIMEZONE_INVALID');
    expect((await ws.post('/v1/queues', { name: 'bad', timezone: 'UTC', timeslots: [{ day: 'monday', time: '24:00' }] })).body.error.code).toBe('VALIDATION_FAILED');
    const id = await add(ws, q.id, 'holds the queue');
    expect((await ws.delete(`/v1/queues/${q.id}`)).body.error.code).toBe('QUEUE_IN_USE');
    await ws.delete(`/v1/posts/${id}`);
    expect((await ws.delete(`/v1/queues/${q.id}`)).status).toBe(204);
  });
});
