// Webhooks that must not go wrong: endpoint URLs through the SSRF guard (refused at registration when the
// address is visible, refused at delivery when a name resolves to a private address); events committed
// while no worker runs are delivered when one starts (nothing lost between commit and delivery); the event
// list for catching up, and samples for Zapier/Make.
import { lookup } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrier } from '../src/boot.js';
import { EVENT_TYPES } from '../src/webhooks/catalog.js';
import { claimDeliveries } from '../src/webhooks/delivery.js';
import { startTestCrier, waitFor, type TestCrier } from './support/harness.js';
import { startReceiver, type Receiver } from './support/receiver.js';

let t: TestCrier;
let rx: Receiver;
beforeAll(async () => {
  rx = await startReceiver();
  // The production default: private addresses refused.
  t = await startTestCrier();
});
afterAll(async () => {
  await t?.stop();
  await rx?.close();
});

describe('endpoint URLs and the SSRF guard', () => {
  it.each([
    'http://127.0.0.1:8080/hook',
    'http://[::1]/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://10.0.0.7/hook',
    'http://192.168.1.1/hook',
    'http://[fd00::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://0x7f000001/hook',
    'http://localhost:3000/hook',
    'ftp://hooks.example.com/x',
    'https://user:pass@hooks.example.com/x',
  ])('refuses %s with 422 URL_NOT_ALLOWED', async (url) => {
    const ws = await t.workspace();
    const r = await ws.post('/v1/webhooks', { url });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('URL_NOT_ALLOWED');
    expect((await ws.get('/v1/webhooks')).body.data).toEqual([]);
  });

  it('refuses to deliver to a name that resolves to a private address, at connect time', async () => {
    // /etc/hosts maps this machine's name to 127.0.0.1 (as on CI); without such a name the case cannot be built.
    const name = 'vm';
    const resolved = await lookup(name).catch(() => undefined);
    if (!resolved || !resolved.address.startsWith('127.')) {
      console.warn(`skipped: "${name}" does not resolve to a loopback address here`);
      return;
    }
    const ws = await t.workspace();
    const r = await ws.post('/v1/webhooks', { url: `http://${name}:${rx.port}/rebound` });
    expect(r.status).toBe(201); // the name itself is not visibly private
    await ws.post(`/v1/webhooks/${r.body.id}/test`, {});
    const d = await waitFor(async () => (await ws.get(`/v1/webhooks/${r.body.id}/deliveries`)).body.data.find((x: any) => x.attempts >= 1 && x.status !== 'delivering'), 10_000);
    expect(d.last_error).toMatch(/non-public address/);
    expect(rx.on('/rebound')).toEqual([]);
  });
});

describe('nothing lost between commit and delivery', () => {
  it('delivers events committed while no worker ran, once a worker starts', async () => {
    // An API without a worker (as when every worker is down): the event and its delivery commit together.
    const api = await startTestCrier({ role: 'serve', env: { CRIER_ALLOW_PRIVATE_URLS: 'true' } });
    let worker: Awaited<ReturnType<typeof startCrier>> | undefined;
    try {
      const ws = await api.workspace();
      const ep = (await ws.post('/v1/webhooks', { url: `${rx.url}/late` })).body;
      await ws.post(`/v1/webhooks/${ep.id}/test`, {});
      await new Promise((res) => setTimeout(res, 500));
      expect((await api.sql.query(`SELECT status FROM webhook_deliveries WHERE endpoint_id = $1`, [ep.id])).rows).toEqual([{ status: 'pending' }]);
      expect(rx.on('/late')).toEqual([]);
      worker = await startCrier(api.config, 'work');
      await waitFor(async () => (rx.on('/late').length === 1 ? true : undefined), 10_000, 'delivered by the new worker');
    } finally {
      await worker?.stop();
      await api.stop();
    }
  });
});

describe('a worker that dies mid-delivery', () => {
  it('has its deliveries re-sent by another worker once the lease expires (at least once, same event id)', async () => {
    const api = await startTestCrier({ role: 'serve', env: { CRIER_ALLOW_PRIVATE_URLS: 'true' } });
    let worker: Awaited<ReturnType<typeof startCrier>> | undefined;
    try {
      const ws = await api.workspace();
      const ep = (await ws.post('/v1/webhooks', { url: `${rx.url}/orphaned` })).body;
      const event = (await ws.post(`/v1/webhooks/${ep.id}/test`, {})).body.event_id as string;
      // A worker claims it and dies before sending: the delivery sits "delivering" under a lease.
      const claimed = await claimDeliveries(api.crier.ctx.db, 'wrk_dead', 10);
      expect(claimed.map((c) => c.event.id)).toEqual([event]);
      await api.sql.query(`UPDATE webhook_deliveries SET lease_expires_at = now() - interval '1 second' WHERE endpoint_id = $1`, [ep.id]);
      worker = await startCrier({ ...api.config, worker: { ...api.config.worker, sweepIntervalMs: 200 } }, 'work');
      const [got] = await waitFor(async () => (rx.on('/orphaned').length ? rx.on('/orphaned') : undefined), 10_000, 're-sent after the lease expired');
      expect(got!.headers['webhook-id']).toBe(event);
    } finally {
      await worker?.stop();
      await api.stop();
    }
  });
});

describe('catching up and samples', () => {
  it('lists events oldest first after a given id, by type, with the id to continue from', async () => {
    const ws = await t.workspace();
    for (let i = 0; i < 3; i++) await ws.post('/v1/posts', { text: `draft ${i}`, account_ids: [await ws.account()], draft: true });
    const all = (await ws.get('/v1/events?type=post.created')).body;
    expect(all.data).toHaveLength(3);
    expect(all.data.map((e: any) => e.data.post_id)).toEqual([...all.data.map((e: any) => e.data.post_id)].sort());
    const page1 = (await ws.get('/v1/events?type=post.created&limit=2')).body;
    expect(page1.data).toHaveLength(2);
    const page2 = (await ws.get(`/v1/events?type=post.created&limit=2&after=${page1.next_after}`)).body;
    expect(page2).toMatchObject({ next_after: null });
    expect([...page1.data, ...page2.data].map((e: any) => e.id)).toEqual(all.data.map((e: any) => e.id));
    expect((await ws.get('/v1/events?after=nonsense')).body.error.code).toBe('CURSOR_INVALID');
  });

  it('gives a sample of every event type, shaped as delivered', async () => {
    const ws = await t.workspace();
    const all = (await ws.get('/v1/events/samples')).body;
    expect(all.map((e: any) => e.type)).toEqual(EVENT_TYPES);
    const one = (await ws.get('/v1/events/samples?type=publication.failed')).body;
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({ type: 'publication.failed', workspace_id: ws.workspaceId, data: { status: 'failed', error: { code: expect.any(String) } } });
  });

  it("documents every event type in the OpenAPI document's webhooks section, with its data schema", async () => {
    const doc = (await (await fetch(`${t.url}/v1/openapi.json`)).json()) as any;
    expect(Object.keys(doc.webhooks)).toEqual(EVENT_TYPES);
    const failed = doc.webhooks['publication.failed'].post;
    expect(failed.parameters.map((p: any) => p.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    const schema = failed.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(['id', 'type', 'created_at', 'workspace_id', 'data']);
    expect(schema.properties.data.properties.error).toBeDefined();
  });

  it('accepts Zapier/Make REST hook subscriptions (target_url, one event) and unsubscribes with DELETE', async () => {
    const ws = await t.workspace();
    const sub = await ws.post('/v1/webhooks', { target_url: 'https://hooks.zapier.com/hooks/standard/123/abc', event: 'publication.published' });
    expect(sub.status).toBe(201);
    expect(sub.body).toMatchObject({ url: 'https://hooks.zapier.com/hooks/standard/123/abc', events: ['publication.published'] });
    expect((await ws.delete(`/v1/webhooks/${sub.body.id}`)).status).toBe(204);
    expect((await ws.get(`/v1/webhooks/${sub.body.id}`)).status).toBe(404);
  });
});
