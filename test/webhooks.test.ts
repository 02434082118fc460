// Webhooks end to end with a real HTTP receiver: what is sent for a post's life, signed so that the
// published `standardwebhooks` library verifies it; filters, test events, secret rotation; retries on the
// documented schedule; 410 and five failing days disable an endpoint; redirects are not followed; one slow
// endpoint does not hold up another; deliveries and their attempts can be inspected and re-sent.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETRY_DELAYS_MS } from '../src/webhooks/delivery.js';
import { settled, startTestCrier, waitFor, type Tenant, type TestCrier } from './support/harness.js';
import { startReceiver, type Receiver } from './support/receiver.js';

let t: TestCrier;
let rx: Receiver;
beforeAll(async () => {
  rx = await startReceiver();
  t = await startTestCrier({ env: { CRIER_ALLOW_PRIVATE_URLS: 'true' } });
});
afterAll(async () => {
  await t?.stop();
  await rx?.close();
});

let n = 0;
async function endpoint(ws: Tenant, extra: Record<string, unknown> = {}) {
  const path = `/hook-${++n}`;
  const r = await ws.post('/v1/webhooks', { url: `${rx.url}${path}`, ...extra });
  expect(r.status).toBe(201);
  return { id: r.body.id as string, secret: r.body.secret as string, path };
}

const types = (path: string) => rx.on(path).map((r) => JSON.parse(r.body).type as string);
const deliveries = async (ws: Tenant, id: string) => (await ws.get(`/v1/webhooks/${id}/deliveries`)).body.data as any[];
/** Makes the endpoint's pending deliveries due now (instead of waiting out the retry delay). */
const dueNow = (id: string) => t.sql.query(`UPDATE webhook_deliveries SET next_attempt_at = now() WHERE endpoint_id = $1 AND status = 'pending'`, [id]);

describe('delivering events', () => {
  it("sends a post's events, each signed per Standard Webhooks, with the event id as webhook-id", async () => {
    const ws = await t.workspace();
    const ep = await endpoint(ws);
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect((await ws.get(`/v1/webhooks/${ep.id}`)).body.secret).toBeUndefined();
    const account = await ws.account();
    const post = await ws.post('/v1/posts', { text: 'webhooks, please', account_ids: [account] });
    await settled(ws, post.body.id);
    await waitFor(async () => (types(ep.path).includes('post.completed') ? true : undefined), 10_000, 'post.completed delivered');

    const got = rx.on(ep.path);
    expect(types(ep.path)).toEqual(expect.arrayContaining(['post.created', 'post.scheduled', 'publication.published', 'post.completed']));
    const verifier = new Webhook(ep.secret);
    const ids = new Set<string>();
    for (const r of got) {
      const payload = verifier.verify(r.body, r.headers) as { id: string; type: string; workspace_id: string; created_at: string; data: any };
      expect(r.headers['webhook-id']).toBe(payload.id);
      expect(payload.workspace_id).toBe(ws.workspaceId);
      expect(Object.keys(payload).sort()).toEqual(['created_at', 'data', 'id', 'type', 'workspace_id']);
      ids.add(payload.id);
    }
    expect(ids.size).toBe(got.length);
    const published = got.map((r) => JSON.parse(r.body)).find((e) => e.type === 'publication.published');
    expect(published.data).toMatchObject({ post_id: post.body.id, account_id: account, platform: 'bluesky', status: 'published' });
    expect(published.data.url).toMatch(/^http/);
    // A forged body or a wrong secret does not verify.
    expect(() => verifier.verify(got[0]!.body.replace('"type"', '"tipe"'), got[0]!.headers)).toThrow();
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(got[0]!.body, got[0]!.headers)).toThrow();
    // The same events can be listed to catch up.
    const listed = (await ws.get('/v1/events')).body.data.map((e: any) => e.id);
    expect(listed).toEqual(expect.arrayContaining([...ids]));
  });

  it('sends only the event types an endpoint asked for, and a test event only to the endpoint tested', async () => {
    const ws = await t.workspace();
    const only = await endpoint(ws, { events: ['publication.published'] });
    const other = await endpoint(ws, { events: ['post.deleted'] });
    const post = await ws.post('/v1/posts', { text: 'filtered', account_ids: [await ws.account()] });
    await settled(ws, post.body.id);
    await waitFor(async () => (rx.on(only.path).length >= 1 ? true : undefined), 10_000);
    const test = await ws.post(`/v1/webhooks/${other.id}/test`, {});
    expect(test.status).toBe(202);
    await waitFor(async () => (rx.on(other.path).length >= 1 ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(types(only.path)).toEqual(['publication.published']);
    expect(types(other.path)).toEqual(['webhook.test']);
    expect(JSON.parse(rx.on(other.path)[0]!.body).id).toBe(test.body.event_id);
  });

  it('signs with the old and the new secret for a day after a rotation, so either verifies', async () => {
    const ws = await t.workspace();
    const ep = await endpoint(ws);
    const rotated = await ws.post(`/v1/webhooks/${ep.id}/rotate_secret`, {});
    expect(rotated.body.secret).not.toBe(ep.secret);
    expect(Date.parse(rotated.body.previous_secret_valid_until) - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    await ws.post(`/v1/webhooks/${ep.id}/test`, {});
    const [r] = await waitFor(async () => (rx.on(ep.path).length ? rx.on(ep.path) : undefined), 10_000);
    expect(r!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(() => new Webhook(ep.secret).verify(r!.body, r!.headers)).not.toThrow();
    expect(() => new Webhook(rotated.body.secret).verify(r!.body, r!.headers)).not.toThrow();
  });
});

describe('failures', () => {
  it('retries on the schedule (5 s, 5 min, 30 min, …, about 3 days in all), then shows each attempt', async () => {
    const total = RETRY_DELAYS_MS.reduce((a, b) => a + b, 0);
    expect(total / 86_400_000).toBeGreaterThan(2.5);
    expect(total / 86_400_000).toBeLessThan(3.5);
    expect(RETRY_DELAYS_MS.slice(0, 5)).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000]);

    const ws = await t.workspace();
    const ep = await endpoint(ws);
    rx.answer(ep.path, [{ status: 500, body: 'boom' }, { status: 503 }, { status: 204 }]);
    await ws.post(`/v1/webhooks/${ep.id}/test`, {});
    const first = await waitFor(async () => (await deliveries(ws, ep.id)).find((d) => d.attempts === 1 && d.status === 'pending'), 10_000);
    // Next try about 5 s after the first (±10% jitter).
    const wait = Date.parse(first.next_attempt_at) - Date.parse(first.attempt_log[0].started_at);
    expect(wait).toBeGreaterThan(4_000);
    expect(wait).toBeLessThan(6_000);
    expect(first.attempt_log[0]).toMatchObject({ number: 1, status: 500, response: 'boom' });

    await dueNow(ep.id);
    const second = await waitFor(async () => (await deliveries(ws, ep.id)).find((d) => d.attempts === 2 && d.status === 'pending'), 10_000);
    const wait2 = Date.parse(second.next_attempt_at) - Date.parse(second.attempt_log[1].started_at);
    expect(wait2).toBeGreaterThan(270_000);
    expect(wait2).toBeLessThan(330_000);
    expect((await ws.get(`/v1/webhooks/${ep.id}`)).body.failing_since).not.toBeNull();

    await dueNow(ep.id);
    const done = await waitFor(async () => (await deliveries(ws, ep.id)).find((d) => d.status === 'succeeded'), 10_000);
    expect(done.attempt_log.map((a: any) => a.status)).toEqual([500, 503, 204]);
    expect(done.attempt_log.every((a: any) => a.latency_ms >= 0)).toBe(true);
    expect((await ws.get(`/v1/webhooks/${ep.id}`)).body.failing_since).toBeNull();
    // Every attempt carried the same event id.
    expect(new Set(rx.on(ep.path).map((r) => r.headers['webhook-id'])).size).toBe(1);

    // Sent again on request, with the same id.
    expect((await ws.post(`/v1/webhooks/${ep.id}/deliveries/${done.id}/retry`, {})).status).toBe(202);
    await waitFor(async () => (rx.on(ep.path).length === 4 ? true : undefined), 10_000);
    expect(rx.on(ep.path)[3]!.headers['webhook-id']).toBe(done.event_id);
  });

  it('disables an endpoint that answers 410 Gone, and tells the workspace', async () => {
    const ws = await t.workspace();
    const watcher = await endpoint(ws, { events: ['endpoint.disabled'] });
    const ep = await endpoint(ws);
    rx.answer(ep.path, { status: 410 });
    await ws.post(`/v1/webhooks/${ep.id}/test`, {});
    await waitFor(async () => ((await ws.get(`/v1/webhooks/${ep.id}`)).body.enabled === false ? true : undefined), 10_000);
    expect((await ws.get(`/v1/webhooks/${ep.id}`)).body.disabled_reason).toMatch(/410/);
    const [notice] = await waitFor(async () => (rx.on(watcher.path).length ? rx.on(watcher.path) : undefined), 10_000);
    expect(JSON.parse(notice!.body)).toMatchObject({ type: 'endpoint.disabled', data: { endpoint_id: ep.id } });
    expect((await deliveries(ws, ep.id))[0]).toMatchObject({ status: 'failed', last_status: 410 });
    // Disabled endpoints get nothing more, and cannot be tested until enabled again.
    expect((await ws.post(`/v1/webhooks/${ep.id}/test`, {})).body.error.code).toBe('ENDPOINT_DISABLED');
    expect((await ws.patch(`/v1/webhooks/${ep.id}`, { enabled: true })).body).toMatchObject({ enabled: true, disabled_reason: null });
  });

  it('disables an endpoint after five days of failures without a success', async () => {
    const ws = await t.workspace();
    const ep = await endpoint(ws);
    rx.answer(ep.path, { status: 500 });
    await t.sql.query(`UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 minute' WHERE id = $1`, [ep.id]);
    await ws.post(`/v1/webhooks/${ep.id}/test`, {});
    await waitFor(async () => ((await ws.get(`/v1/webhooks/${ep.id}`)).body.enabled === false ? true : undefined), 10_000);
    expect((await ws.get(`/v1/webhooks/${ep.id}`)).body.disabled_reason).toMatch(/5 days/);
  });

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    const ws = await t.workspace();
    const ep = await endpoint(ws);
    const target = `/redirect-target-${n}`;
    rx.answer(ep.path, { status: 302, location: `${rx.url}${target}` });
    await ws.post(`/v1/webhooks/${ep.id}/test`, {});
    const d = await waitFor(async () => (await deliveries(ws, ep.id)).find((x) => x.attempts === 1 && x.status === 'pending'), 10_000);
    expect(d.last_status).toBe(302);
    expect(rx.on(target)).toEqual([]);
  });

  it('keeps delivering to a fast endpoint while a slow one holds its deliveries open', async () => {
    const ws = await t.workspace();
    const slow = await endpoint(ws, { events: ['webhook.test'] });
    const fast = await endpoint(ws, { events: ['webhook.test'] });
    rx.answer(slow.path, { status: 200, delayMs: 4_000 });
    for (let i = 0; i < 12; i++) await ws.post(`/v1/webhooks/${slow.id}/test`, {});
    const started = Date.now();
    for (let i = 0; i < 8; i++) await ws.post(`/v1/webhooks/${fast.id}/test`, {});
    await waitFor(async () => (rx.on(fast.path).length === 8 ? true : undefined), 10_000);
    expect(Date.now() - started).toBeLessThan(3_000);
    // At most 8 deliveries to one endpoint are in flight at once.
    const inFlight = await t.sql.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'delivering'`, [slow.id]);
    expect(inFlight.rows[0].n).toBeLessThanOrEqual(8);
  });
});
