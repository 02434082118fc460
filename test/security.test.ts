// Security suite: tenant isolation on every route, authentication and scopes, rate limits, and secrets at
// rest. Everything goes over real HTTP to a Crier on a real database; a route missing from the tables below
// fails the first test, so a new route cannot ship without its security cases.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ERRORS } from '../src/http/error-codes.js';
import { credentialsAad } from '../src/services/accounts.js';
import { createWorkspaceKey } from '../src/services/workspaces.js';
import { insertWorkspace } from '../src/db/queries/workspaces.js';
import { generateKeySecret } from '../src/lib/api-keys.js';
import { openJson, sealJson } from '../src/lib/crypto.js';
import { secretsAad } from '../src/services/connections.js';
import { newId } from '../src/lib/ids.js';
import { ADMIN_KEY, client, startTestCrier, type ApiResponse, type Client, type Tenant, type TestCrier } from './support/harness.js';
import { registeredRoutes } from './support/routes.js';

let t: TestCrier;
beforeAll(async () => {
  // Every route × every case creates tenants through the operator key: far more than 600 calls a minute.
  t = await startTestCrier({ env: { CRIER_RATE_LIMIT_PER_MINUTE: '100000' } });
});
afterAll(async () => t?.stop());

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();
/** One fixed window (from a day ago to a week ahead of when the file loaded), so answers compare equal. */
const CALENDAR = `/v1/calendar?from=${encodeURIComponent(inSeconds(-86_400))}&to=${encodeURIComponent(inSeconds(7 * 86_400))}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** The one error envelope, with a documented code, its status, and the request id in header and body. */
function expectError(r: ApiResponse, status: number, code: keyof typeof API_ERRORS) {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expect(API_ERRORS[code].status).toBe(status);
  expect(Object.keys(r.body)).toEqual(['error']);
  expect(Object.keys(r.body.error).sort()).toEqual(['code', 'details', 'message', 'request_id']);
  expect(typeof r.body.error.message).toBe('string');
  expect(Array.isArray(r.body.error.details)).toBe(true);
  expect(r.headers.get('x-request-id')).toMatch(/^req_/);
  expect(r.body.error.request_id).toBe(r.headers.get('x-request-id'));
  expect(JSON.stringify(r.body)).not.toMatch(/\bat .+\.(ts|js):\d+|stack/i);
}

/** The error without what differs per request, to compare two answers for equality. */
const comparable = (r: ApiResponse, replace: [string, string][] = []) => {
  let text = JSON.stringify({ status: r.status, error: { ...r.body.error, request_id: undefined } });
  for (const [from, to] of replace) text = text.split(from).join(to);
  return JSON.parse(text);
};

const RATE_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];
function expectRateHeaders(r: ApiResponse) {
  for (const h of RATE_HEADERS) expect(r.headers.get(h) ?? 'missing', `${h} on a ${r.status}`).toMatch(/^\d+$/);
}

// ---------------------------------------------------------------------------------------------------------
// The route tables. `Fx` holds the objects a route's path and body refer to.

type Fx = { workspaceId: string; accountId: string; postId: string; keyId: string; mediaId: string; connectionId: string; login: { identifier: string; password: string }; webhookId: string; deliveryId: string; queueId: string; pendingPostId: string; pinterestAccountId: string };
type Route = { method: string; path: (f: Fx) => string; body?: (f: Fx) => unknown; write: boolean };

const WORKSPACE_ROUTES: Record<string, Route> = {
  'GET /v1/accounts': { method: 'GET', path: () => '/v1/accounts', write: false },
  'POST /v1/accounts': { method: 'POST', path: () => '/v1/accounts', body: () => ({ platform: 'bluesky', sandbox: true, username: `u${randomBytes(3).toString('hex')}` }), write: true },
  'GET /v1/accounts/{id}': { method: 'GET', path: (f) => `/v1/accounts/${f.accountId}`, write: false },
  'DELETE /v1/accounts/{id}': { method: 'DELETE', path: (f) => `/v1/accounts/${f.accountId}`, write: true },
  'GET /v1/posts': { method: 'GET', path: () => '/v1/posts', write: false },
  'POST /v1/posts': { method: 'POST', path: () => '/v1/posts', body: (f) => ({ text: 'new post', account_ids: [f.accountId], draft: true }), write: true },
  'GET /v1/posts/{id}': { method: 'GET', path: (f) => `/v1/posts/${f.postId}`, write: false },
  'PATCH /v1/posts/{id}': { method: 'PATCH', path: (f) => `/v1/posts/${f.postId}`, body: () => ({ text: 'changed' }), write: true },
  'DELETE /v1/posts/{id}': { method: 'DELETE', path: (f) => `/v1/posts/${f.postId}`, write: true },
  'POST /v1/posts/{id}/publish': { method: 'POST', path: (f) => `/v1/posts/${f.postId}/publish`, write: true },
  'POST /v1/posts/{id}/schedule': { method: 'POST', path: (f) => `/v1/posts/${f.postId}/schedule`, body: () => ({ scheduled_at: inSeconds(7200) }), write: true },
  'GET /v1/media': { method: 'GET', path: () => '/v1/media', write: false },
  'POST /v1/media': { method: 'POST', path: () => '/v1/media', body: () => ({ url: 'https://media.example.com/a.png' }), write: true },
  'POST /v1/media/uploads': { method: 'POST', path: () => '/v1/media/uploads', body: () => ({ filename: 'a.png', content_type: 'image/png', size: 100 }), write: true },
  'GET /v1/media/{id}': { method: 'GET', path: (f) => `/v1/media/${f.mediaId}`, write: false },
  'POST /v1/media/{id}/complete': { method: 'POST', path: (f) => `/v1/media/${f.mediaId}/complete`, body: () => ({}), write: true },
  'DELETE /v1/media/{id}': { method: 'DELETE', path: (f) => `/v1/media/${f.mediaId}`, write: true },
  'POST /v1/connections': { method: 'POST', path: () => '/v1/connections', body: (f) => ({ platform: 'bluesky', redirect_url: 'https://app.example.com/back', sandbox: true, ...f.login }), write: true },
  'GET /v1/connections/{id}': { method: 'GET', path: (f) => `/v1/connections/${f.connectionId}`, write: false },
  'POST /v1/webhooks': { method: 'POST', path: () => '/v1/webhooks', body: () => ({ url: 'https://hooks.example.com/crier', events: ['publication.published'] }), write: true },
  'GET /v1/webhooks': { method: 'GET', path: () => '/v1/webhooks', write: false },
  'GET /v1/webhooks/{id}': { method: 'GET', path: (f) => `/v1/webhooks/${f.webhookId}`, write: false },
  'PATCH /v1/webhooks/{id}': { method: 'PATCH', path: (f) => `/v1/webhooks/${f.webhookId}`, body: () => ({ description: 'changed' }), write: true },
  'DELETE /v1/webhooks/{id}': { method: 'DELETE', path: (f) => `/v1/webhooks/${f.webhookId}`, write: true },
  'POST /v1/webhooks/{id}/rotate_secret': { method: 'POST', path: (f) => `/v1/webhooks/${f.webhookId}/rotate_secret`, write: true },
  'POST /v1/webhooks/{id}/test': { method: 'POST', path: (f) => `/v1/webhooks/${f.webhookId}/test`, write: true },
  'GET /v1/webhooks/{id}/deliveries': { method: 'GET', path: (f) => `/v1/webhooks/${f.webhookId}/deliveries`, write: false },
  'POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry': { method: 'POST', path: (f) => `/v1/webhooks/${f.webhookId}/deliveries/${f.deliveryId}/retry`, write: true },
  'PUT /v1/apps/{platform}': { method: 'PUT', path: () => '/v1/apps/x', body: () => ({ client_id: 'own-client', client_secret: 'own-secret-value' }), write: true },
  'GET /v1/apps': { method: 'GET', path: () => '/v1/apps', write: false },
  'DELETE /v1/apps/{platform}': { method: 'DELETE', path: () => '/v1/apps/x', write: true },
  'GET /v1/accounts/{id}/lookups/{name}': { method: 'GET', path: (f) => `/v1/accounts/${f.pinterestAccountId}/lookups/boards`, write: false },
  'GET /v1/providers': { method: 'GET', path: () => '/v1/providers', write: false },
  'PUT /v1/providers/{provider}': { method: 'PUT', path: () => '/v1/providers/postforme', body: () => ({ sandbox: true }), write: true },
  'DELETE /v1/providers/{provider}': { method: 'DELETE', path: () => '/v1/providers/late', write: true },
  'POST /v1/providers/{provider}/connect': { method: 'POST', path: () => '/v1/providers/late/connect', body: () => ({ platform: 'x', redirect_url: 'https://app.example.com/back' }), write: true },
  'POST /v1/providers/{provider}/sync': { method: 'POST', path: () => '/v1/providers/late/sync', write: true },
  'POST /v1/posts/{id}/approve': { method: 'POST', path: (f) => `/v1/posts/${f.pendingPostId}/approve`, write: true },
  'POST /v1/posts/{id}/reject': { method: 'POST', path: (f) => `/v1/posts/${f.pendingPostId}/reject`, body: () => ({ reason: 'not today' }), write: true },
  'POST /v1/posts/{id}/review_links': { method: 'POST', path: (f) => `/v1/posts/${f.pendingPostId}/review_links`, body: () => ({ expires_in_hours: 2 }), write: true },
  'GET /v1/calendar': { method: 'GET', path: () => CALENDAR, write: false },
  'POST /v1/queues': { method: 'POST', path: () => '/v1/queues', body: () => ({ name: 'weekdays', timezone: 'Europe/Berlin', timeslots: [{ day: 'monday', time: '09:00' }] }), write: true },
  'GET /v1/queues': { method: 'GET', path: () => '/v1/queues', write: false },
  'GET /v1/queues/{id}': { method: 'GET', path: (f) => `/v1/queues/${f.queueId}`, write: false },
  'PATCH /v1/queues/{id}': { method: 'PATCH', path: (f) => `/v1/queues/${f.queueId}`, body: () => ({ name: 'renamed' }), write: true },
  'DELETE /v1/queues/{id}': { method: 'DELETE', path: (f) => `/v1/queues/${f.queueId}`, write: true },
  'POST /v1/queues/{id}/pause': { method: 'POST', path: (f) => `/v1/queues/${f.queueId}/pause`, write: true },
  'POST /v1/queues/{id}/resume': { method: 'POST', path: (f) => `/v1/queues/${f.queueId}/resume`, write: true },
  'GET /v1/queues/{id}/slots': { method: 'GET', path: (f) => `/v1/queues/${f.queueId}/slots`, write: false },
  'GET /v1/events': { method: 'GET', path: () => '/v1/events', write: false },
  'GET /v1/events/samples': { method: 'GET', path: () => '/v1/events/samples', write: false },
  'POST /v1/connections/{id}/accounts': { method: 'POST', path: (f) => `/v1/connections/${f.connectionId}/accounts`, body: () => ({ external_ids: ['page-1'] }), write: true },
};

const OPERATOR_ROUTES: Record<string, Route> = {
  'POST /v1/workspaces': { method: 'POST', path: () => '/v1/workspaces', body: () => ({ name: 'made by a test' }), write: true },
  'GET /v1/workspaces': { method: 'GET', path: () => '/v1/workspaces', write: false },
  'PATCH /v1/workspaces/{id}': { method: 'PATCH', path: (f) => `/v1/workspaces/${f.workspaceId}`, body: () => ({ name: 'renamed by a test' }), write: true },
  'GET /v1/workspaces/{id}': { method: 'GET', path: (f) => `/v1/workspaces/${f.workspaceId}`, write: false },
  'POST /v1/workspaces/{id}/api_keys': { method: 'POST', path: (f) => `/v1/workspaces/${f.workspaceId}/api_keys`, body: () => ({ name: 'made by a test' }), write: true },
  'GET /v1/workspaces/{id}/api_keys': { method: 'GET', path: (f) => `/v1/workspaces/${f.workspaceId}/api_keys`, write: false },
  'DELETE /v1/workspaces/{id}/api_keys/{key_id}': { method: 'DELETE', path: (f) => `/v1/workspaces/${f.workspaceId}/api_keys/${f.keyId}`, write: true },
};

const PUBLIC_ROUTES = ['/health/live', '/health/ready', '/metrics', '/v1/openapi.json'];
/** Authorized by a signature in the URL instead of an API key (upload target, URLs platforms pull). */
const SIGNED_ROUTES = ['PUT /v1/media/{id}/content', 'GET /media/{id}/{variant}', 'GET /v1/connections/callback', 'GET /review/{token}', 'POST /review/{token}'];

const ALL_ROUTES = { ...WORKSPACE_ROUTES, ...OPERATOR_ROUTES };
const workspaceRoutes = Object.entries(WORKSPACE_ROUTES);
const operatorRoutes = Object.entries(OPERATOR_ROUTES);
const allRoutes = Object.entries(ALL_ROUTES);

const call = (c: Client, route: Route, f: Fx, headers?: Record<string, string>) => c.request(route.method, route.path(f), route.body?.(f), headers);

/** A workspace with a connected account, a post scheduled an hour ahead, and the id of its main key. */
async function tenantWithObjects(name = 'tenant'): Promise<{ ws: Tenant; fx: Fx }> {
  const ws = await t.workspace(name);
  const accountId = await ws.account();
  // An account with a lookup (its boards).
  const pinterestAccountId = await ws.account('pinterest');
  const post = await ws.post('/v1/posts', { text: `${name} private text`, account_ids: [accountId], scheduled_at: inSeconds(3600) });
  expect(post.status).toBe(201);
  // From the database, not the operator API, so fixtures do not spend the operator key's rate limit.
  const key = await t.sql.query('SELECT id FROM api_keys WHERE workspace_id = $1', [ws.workspaceId]);
  const form = new FormData();
  form.append('file', new Blob([TINY_PNG], { type: 'image/png' }), `${name} private.png`);
  const media = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  expect(media.status).toBe(201);
  const mediaId = ((await media.json()) as { id: string }).id;
  // A connection waiting for the workspace to choose among a login's Pages (as the OAuth callback leaves it).
  const connectionId = newId('connection');
  const page = { externalId: 'page-1', username: `${name} page`, displayName: `${name} page`, kind: 'page' };
  await t.sql.query(
    `INSERT INTO connections (id, workspace_id, platform, sandbox, status, state_hash, redirect_url, candidates, secrets, expires_at)
     VALUES ($1, $2, 'facebook', true, 'choosing', $3, 'https://app.example.com/back', $4, $5, now() + interval '1 hour')`,
    [connectionId, ws.workspaceId, randomBytes(32), JSON.stringify([{ external_id: page.externalId, username: page.username, display_name: page.displayName, kind: 'page' }]),
      sealJson(t.crier.ctx.keyRing, [{ ...page, credentials: { accessToken: `page-token-${name}` } }], secretsAad(connectionId))],
  );
  const did = (await ws.get(`/v1/accounts/${accountId}`)).body.external_id as string;
  const simulated = t.sandbox.bluesky.accounts.get(did)!;
  const login = { identifier: simulated.handle, password: simulated.password };
  // A webhook endpoint with one finished delivery. It subscribes to an event the tests never cause, so
  // nothing is delivered to it behind their back (its URL does not resolve here).
  const hook = await ws.post('/v1/webhooks', { url: `https://hooks.example.com/${name}`, description: `${name} private hook`, events: ['account.reconnect_required'] });
  expect(hook.status).toBe(201);
  const eventId = newId('event');
  const deliveryId = `dlv_${randomBytes(16).toString('hex')}`;
  await t.sql.query(`INSERT INTO events (id, workspace_id, type, data) VALUES ($1, $2, 'webhook.test', '{}')`, [eventId, ws.workspaceId]);
  await t.sql.query(`INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, status, attempts) VALUES ($1, $2, $3, $4, 'failed', 1)`, [deliveryId, ws.workspaceId, hook.body.id, eventId]);
  // The workspace's own X app (DELETE /v1/apps/x needs one to remove).
  expect((await ws.request('PUT', '/v1/apps/x', { client_id: `${name}-client`, client_secret: `${name}-private-secret` })).status).toBe(200);
  // A provider key (DELETE, connect and sync need one).
  expect((await ws.request('PUT', '/v1/providers/late', { sandbox: true })).status).toBe(201);
  const queue = await ws.post('/v1/queues', { name: `${name} private queue`, timezone: 'Europe/Berlin', timeslots: [{ day: 'friday', time: '17:00' }], account_ids: [accountId] });
  expect(queue.status).toBe(201);
  const pending = await ws.post('/v1/posts', { text: `${name} private draft awaiting approval`, account_ids: [accountId], requires_approval: true, scheduled_at: inSeconds(7200) });
  expect(pending.body.status).toBe('pending_approval');
  return { ws, fx: { workspaceId: ws.workspaceId, accountId, postId: post.body.id, keyId: key.rows[0].id, mediaId, connectionId, login, webhookId: hook.body.id, deliveryId, queueId: queue.body.id, pendingPostId: pending.body.id, pinterestAccountId } };
}

const TINY_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

/** Everything a workspace owns, as stored. */
async function snapshot(workspaceId: string) {
  const rows = async (sql: string) => (await t.sql.query(sql, [workspaceId])).rows;
  return {
    posts: await rows('SELECT * FROM posts WHERE workspace_id = $1 ORDER BY id'),
    publications: await rows('SELECT * FROM publications WHERE workspace_id = $1 ORDER BY id'),
    accounts: await rows('SELECT * FROM accounts WHERE workspace_id = $1 ORDER BY id'),
    events: await rows('SELECT id, type, data FROM events WHERE workspace_id = $1 ORDER BY id'),
    keys: await rows('SELECT id, name, scopes, revoked_at FROM api_keys WHERE workspace_id = $1 ORDER BY id'),
    idempotency: await rows('SELECT key FROM idempotency_keys WHERE scope = $1 ORDER BY key'),
    media: await rows('SELECT * FROM media WHERE workspace_id = $1 ORDER BY id'),
    renditions: await rows('SELECT * FROM media_renditions WHERE workspace_id = $1 ORDER BY media_id, profile'),
    connections: await rows('SELECT * FROM connections WHERE workspace_id = $1 ORDER BY id'),
    webhooks: await rows('SELECT * FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY id'),
    deliveries: await rows('SELECT * FROM webhook_deliveries WHERE workspace_id = $1 ORDER BY id'),
    queues: await rows('SELECT * FROM queues WHERE workspace_id = $1 ORDER BY id'),
    apps: await rows('SELECT * FROM oauth_apps WHERE workspace_id = $1 ORDER BY id'),
    providers: await rows('SELECT * FROM provider_keys WHERE workspace_id = $1 ORDER BY id'),
  };
}

/** The owner's view of its objects through the API (the post, the account, the lists). */
async function ownerView(ws: Client, fx: Fx) {
  return {
    post: (await ws.get(`/v1/posts/${fx.postId}`)).body,
    account: (await ws.get(`/v1/accounts/${fx.accountId}`)).body,
    posts: (await ws.get('/v1/posts')).body,
    accounts: (await ws.get('/v1/accounts')).body,
    media: (await ws.get(`/v1/media/${fx.mediaId}`)).body,
    mediaList: (await ws.get('/v1/media')).body,
    connection: (await ws.get(`/v1/connections/${fx.connectionId}`)).body,
    webhook: (await ws.get(`/v1/webhooks/${fx.webhookId}`)).body,
    deliveries: (await ws.get(`/v1/webhooks/${fx.webhookId}/deliveries`)).body,
    events: (await ws.get('/v1/events')).body,
    queue: (await ws.get(`/v1/queues/${fx.queueId}`)).body,
    slots: (await ws.get(`/v1/queues/${fx.queueId}/slots`)).body,
    calendar: (await ws.get(CALENDAR)).body,
  };
}


describe('the route tables', () => {
  it('cover every route registered in src/http, so a new route cannot ship without security cases', async () => {
    const registered = await registeredRoutes();
    expect(registered.length).toBeGreaterThanOrEqual(Object.keys(ALL_ROUTES).length + PUBLIC_ROUTES.length);
    const covered = [...Object.keys(ALL_ROUTES), ...PUBLIC_ROUTES.map((p) => `GET ${p}`), ...SIGNED_ROUTES].sort();
    expect(registered).toEqual(covered);
  });

  it('cover every route of the OpenAPI document, so a new route needs security cases', async () => {
    const doc = (await client(t.url).get('/v1/openapi.json')).body;
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const covered = [...Object.keys(ALL_ROUTES), ...PUBLIC_ROUTES.map((p) => `GET ${p}`), ...SIGNED_ROUTES];
    expect(documented.filter((r) => !covered.includes(r))).toEqual([]);
    expect(Object.keys(ALL_ROUTES).filter((r) => !documented.includes(r))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('tenant isolation', () => {
  const foreignObjectRoutes = workspaceRoutes.filter(([name]) => name.includes('{id}'));

  it.each(foreignObjectRoutes)('answers %s on another workspace\'s object with 404, as if it did not exist', async (_name, route) => {
    const { ws: a } = await tenantWithObjects('A');
    const { ws: b, fx: bFx } = await tenantWithObjects('B');
    const storedBefore = await snapshot(b.workspaceId);
    const viewBefore = await ownerView(b, bFx);

    const r = await call(a, route, bFx);
    expectError(r, 404, 'NOT_FOUND');
    const text = JSON.stringify(r.body);
    for (const secret of [bFx.postId, bFx.accountId, bFx.mediaId, b.workspaceId, 'B private text', 'B private.png']) expect(text).not.toContain(secret);
    // Word for word what an id that exists nowhere gets.
    const nowhere = { ...bFx, postId: newId('post'), accountId: newId('account'), mediaId: newId('media'), connectionId: newId('connection'), webhookId: newId('webhook'), deliveryId: `dlv_${randomBytes(16).toString('hex')}`, queueId: newId('queue'), pendingPostId: newId('post') };
    expect(comparable(r)).toEqual(comparable(await call(a, route, nowhere)));

    expect(await snapshot(b.workspaceId)).toEqual(storedBefore);
    expect(await ownerView(b, bFx)).toEqual(viewBefore);
  });

  it("refuses another workspace's account in POST /v1/posts with 422 ACCOUNT_NOT_FOUND, as for an unknown id", async () => {
    const { ws: a, fx: aFx } = await tenantWithObjects('A');
    const { ws: b, fx: bFx } = await tenantWithObjects('B');
    const aBefore = await snapshot(a.workspaceId);
    const bBefore = await snapshot(b.workspaceId);

    for (const ids of [[bFx.accountId], [aFx.accountId, bFx.accountId]]) {
      for (const extra of [{}, { draft: true }, { scheduled_at: inSeconds(600) }]) {
        const r = await a.post('/v1/posts', { text: 'reaching over', account_ids: ids, ...extra });
        expectError(r, 422, 'ACCOUNT_NOT_FOUND');
        expect(r.body.error.details).toEqual([{ field: 'body.account_ids', account_id: bFx.accountId, message: 'not found in this workspace' }]);
        const unknown = newId('account');
        const control = await a.post('/v1/posts', { text: 'reaching over', account_ids: ids.map((id) => (id === bFx.accountId ? unknown : id)), ...extra });
        expect(comparable(r, [[bFx.accountId, '<id>']])).toEqual(comparable(control, [[unknown, '<id>']]));
      }
    }
    expect(await snapshot(a.workspaceId)).toEqual(aBefore);
    expect(await snapshot(b.workspaceId)).toEqual(bBefore);
  });

  it("refuses another workspace's account in PATCH /v1/posts/{id} with 422 ACCOUNT_NOT_FOUND and changes neither workspace", async () => {
    const { ws: a, fx: aFx } = await tenantWithObjects('A');
    const { ws: b, fx: bFx } = await tenantWithObjects('B');
    const aBefore = await snapshot(a.workspaceId);
    const bBefore = await snapshot(b.workspaceId);

    for (const ids of [[bFx.accountId], [aFx.accountId, bFx.accountId]]) {
      const r = await a.patch(`/v1/posts/${aFx.postId}`, { account_ids: ids });
      expectError(r, 422, 'ACCOUNT_NOT_FOUND');
      expect(r.body.error.details.map((d: any) => d.account_id)).toEqual([bFx.accountId]);
    }
    expect(await snapshot(a.workspaceId)).toEqual(aBefore);
    expect(await snapshot(b.workspaceId)).toEqual(bBefore);
  });

  it("finds nothing when A filters its posts by B's account id, exactly as for an unknown account", async () => {
    const { ws: a } = await tenantWithObjects('A');
    const { fx: bFx } = await tenantWithObjects('B');
    expect((await a.get('/v1/posts')).body.data).toHaveLength(2); // the scheduled post and the one awaiting approval
    const r = await a.get(`/v1/posts?account_id=${bFx.accountId}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: [], next_cursor: null });
    expect((await a.get(`/v1/posts?account_id=${newId('account')}`)).body).toEqual(r.body);
    for (const status of ['scheduled', 'draft', 'cancelled']) {
      expect((await a.get(`/v1/posts?account_id=${bFx.accountId}&status=${status}`)).body.data).toEqual([]);
    }
  });

  it("never lists another workspace's posts or accounts, whatever the filter or page", async () => {
    const { ws: a, fx: aFx } = await tenantWithObjects('A');
    const { ws: b, fx: bFx } = await tenantWithObjects('B');
    await b.post('/v1/posts', { text: 'B private draft', account_ids: [bFx.accountId], draft: true });
    await b.post('/v1/posts', { text: 'B private now', account_ids: [bFx.accountId] });
    await b.account();
    const bIds = [b.workspaceId, ...(await t.sql.query('SELECT id FROM posts WHERE workspace_id = $1 UNION ALL SELECT id FROM accounts WHERE workspace_id = $1 UNION ALL SELECT id FROM publications WHERE workspace_id = $1', [b.workspaceId])).rows.map((r) => r.id)];
    expect(bIds.length).toBeGreaterThan(6);

    const pages: ApiResponse[] = [];
    for (const base of ['/v1/posts?limit=1', '/v1/accounts?limit=1']) {
      let path: string | undefined = base;
      while (path) {
        const r: ApiResponse = await a.get(path);
        expect(r.status).toBe(200);
        pages.push(r);
        path = r.body.next_cursor ? `${base}&cursor=${r.body.next_cursor}` : undefined;
      }
    }
    const filters = ['status=scheduled', 'status=draft', 'status=publishing', 'status=published', `from=${encodeURIComponent(inSeconds(-86400))}`, `to=${encodeURIComponent(inSeconds(86400 * 30))}`];
    for (const f of filters) pages.push(await a.get(`/v1/posts?${f}`));
    for (const f of ['platform=bluesky', 'status=connected', 'status=disconnected']) pages.push(await a.get(`/v1/accounts?${f}`));

    const seen = pages.flatMap((p) => p.body.data.map((x: any) => x.id));
    expect(seen).toContain(aFx.postId);
    expect(seen).toContain(aFx.accountId);
    const text = JSON.stringify(pages.map((p) => p.body));
    for (const id of bIds) expect(text).not.toContain(id);
    expect(text).not.toContain('B private');
  });

  it("does not let A page into B's rows with a cursor made from B's ids", async () => {
    const { ws: a, fx: aFx } = await tenantWithObjects('A');
    const { ws: b, fx: bFx } = await tenantWithObjects('B');
    // A second post and account in B, so a cursor at B's newer row would have B's older one on the next page.
    const bNewer = await b.post('/v1/posts', { text: 'B private newer', account_ids: [bFx.accountId], draft: true });
    const bNewerAccount = await b.account();
    const cursor = (id: string) => Buffer.from(`v1:${id}`).toString('base64url');

    // B's cursors: exactly what B itself gets for its first page of one, made for B's real rows.
    const bPostCursor = (await b.get('/v1/posts?limit=1')).body.next_cursor as string;
    const bAccountCursor = (await b.get('/v1/accounts?limit=1')).body.next_cursor as string;
    expect(bPostCursor).toBe(cursor(bNewer.body.id));
    expect(bAccountCursor).toBe(cursor(bNewerAccount));

    const pages = [
      await a.get(`/v1/posts?cursor=${bPostCursor}`),
      await a.get(`/v1/posts?cursor=${cursor(bFx.postId)}`),
      await a.get(`/v1/posts?cursor=${cursor(newId('post'))}`),
      await a.get(`/v1/accounts?cursor=${bAccountCursor}`),
      await a.get(`/v1/accounts?cursor=${cursor(bFx.accountId)}`),
    ];
    for (const page of pages) expect(page.status).toBe(200);
    // A's rows are older than all of B's, so a cursor at any of B's rows pages on to A's own, and only those.
    for (const page of pages.slice(0, 3)) expect(page.body.data.map((p: any) => p.id)).toEqual([aFx.pendingPostId, aFx.postId]);
    for (const page of pages.slice(3)) expect(page.body.data.map((x: any) => x.id)).toEqual([aFx.pinterestAccountId, aFx.accountId]);
    const text = JSON.stringify(pages.map((p) => p.body));
    for (const id of [bFx.postId, bNewer.body.id, bFx.accountId, bNewerAccount, b.workspaceId]) expect(text).not.toContain(id);
    expect(text).not.toContain('B private');
  });

  it("answers the operator 404 for a key of another workspace under this workspace's path, and the key keeps working", async () => {
    const { ws: a, fx: aFx } = await tenantWithObjects('A');
    const { ws: b, fx: bFx } = await tenantWithObjects('B');
    const r = await t.operator.delete(`/v1/workspaces/${aFx.workspaceId}/api_keys/${bFx.keyId}`);
    expectError(r, 404, 'NOT_FOUND');
    expect((await b.get('/v1/posts')).status).toBe(200);
    expect((await t.sql.query('SELECT revoked_at FROM api_keys WHERE id = $1', [bFx.keyId])).rows[0].revoked_at).toBeNull();
    const aKeys = (await t.operator.get(`/v1/workspaces/${aFx.workspaceId}/api_keys`)).body.data;
    expect(aKeys.map((k: any) => k.id)).toEqual([aFx.keyId]);
    expect(aKeys.every((k: any) => k.workspace_id === a.workspaceId)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('authentication', () => {
  const unknownKey = () => generateKeySecret('crier_sk_');
  const badAuth: [string, () => Record<string, string>][] = [
    ['no Authorization header', () => ({})],
    ['an empty Authorization header', () => ({ authorization: '' })],
    ['a scheme other than Bearer', () => ({ authorization: `Basic ${Buffer.from(`x:${unknownKey()}`).toString('base64')}` })],
    ['"Bearer" with no key', () => ({ authorization: 'Bearer' })],
    ['a key without the Bearer scheme', () => ({ authorization: unknownKey() })],
    ['two tokens after Bearer', () => ({ authorization: `Bearer ${unknownKey()} ${unknownKey()}` })],
    ['an unknown workspace key', () => ({ authorization: `Bearer ${unknownKey()}` })],
    ['an unknown operator key', () => ({ authorization: `Bearer ${generateKeySecret('crier_admin_')}` })],
    ['the operator key with one character changed', () => ({ authorization: `Bearer ${ADMIN_KEY.slice(0, -1)}y` })],
  ];

  it.each(allRoutes)('answers %s with 401 UNAUTHENTICATED for a missing, malformed or unknown key, and changes nothing', async (_name, route) => {
    const { ws, fx } = await tenantWithObjects();
    const before = await snapshot(ws.workspaceId);
    const workspacesBefore = (await t.sql.query('SELECT count(*)::int AS n FROM workspaces')).rows[0].n;
    const anonymous = client(t.url);
    for (const [what, headers] of badAuth) {
      const r = await call(anonymous, route, fx, headers());
      expect(r.status, what).toBe(401);
      expectError(r, 401, 'UNAUTHENTICATED');
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect(await snapshot(ws.workspaceId)).toEqual(before);
    expect((await t.sql.query('SELECT count(*)::int AS n FROM workspaces')).rows[0].n).toBe(workspacesBefore);
  });

  it('answers 401 on every route at once after the operator revokes a key that was just used', async () => {
    const { ws, fx } = await tenantWithObjects();
    const created = await t.operator.post(`/v1/workspaces/${ws.workspaceId}/api_keys`, { name: 'to revoke' });
    expect(created.status).toBe(201);
    const doomed = client(t.url, created.body.key);
    expect((await doomed.get('/v1/posts')).status).toBe(200); // now in the key cache

    const revoked = await t.operator.delete(`/v1/workspaces/${ws.workspaceId}/api_keys/${created.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    expect(revoked.body).not.toHaveProperty('key');

    const before = await snapshot(ws.workspaceId);
    // Operator routes too: a revoked key is unknown, not merely a workspace key (which would be a 403).
    for (const [name, route] of allRoutes) {
      const r = await call(doomed, route, fx);
      expect(r.status, name).toBe(401);
      expectError(r, 401, 'UNAUTHENTICATED');
      expect(r.body.error.message).toMatch(/unknown or revoked/);
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect(await snapshot(ws.workspaceId)).toEqual(before);
    // The workspace's other key is untouched.
    expect((await ws.get('/v1/posts')).status).toBe(200);
  });

  it('never answers a revoked key again, even after the key cache would have expired', async () => {
    const ws = await t.workspace();
    const created = await t.operator.post(`/v1/workspaces/${ws.workspaceId}/api_keys`, { name: 'to revoke' });
    await t.operator.delete(`/v1/workspaces/${ws.workspaceId}/api_keys/${created.body.id}`);
    // Revoking twice is harmless and keeps the first revocation time.
    const again = await t.operator.delete(`/v1/workspaces/${ws.workspaceId}/api_keys/${created.body.id}`);
    expect(again.status).toBe(200);
    const stored = await t.sql.query('SELECT revoked_at FROM api_keys WHERE id = $1', [created.body.id]);
    expect(new Date(again.body.revoked_at).getTime()).toBe(stored.rows[0].revoked_at.getTime());
    await new Promise((r) => setTimeout(r, 5_200));
    expectError(await client(t.url, created.body.key).get('/v1/accounts'), 401, 'UNAUTHENTICATED');
  });
});

describe('authorization', () => {
  it.each(workspaceRoutes)('answers %s with 403 FORBIDDEN for the operator key, and changes nothing', async (_name, route) => {
    const { ws, fx } = await tenantWithObjects();
    const before = await snapshot(ws.workspaceId);
    const r = await call(t.operator, route, fx);
    expectError(r, 403, 'FORBIDDEN');
    expect(r.body.error.message).toMatch(/operator key/);
    expectRateHeaders(r);
    expect(await snapshot(ws.workspaceId)).toEqual(before);
  });

  it.each(operatorRoutes)('answers %s with 403 FORBIDDEN for a workspace key, even for its own workspace', async (_name, route) => {
    const { ws, fx } = await tenantWithObjects();
    const reader = await ws.keyWithScopes(['read']);
    const before = await snapshot(ws.workspaceId);
    const workspacesBefore = (await t.sql.query('SELECT count(*)::int AS n FROM workspaces')).rows[0].n;
    for (const key of [ws, reader]) {
      const r = await call(key, route, fx);
      expectError(r, 403, 'FORBIDDEN');
      expect(r.body.error.message).toMatch(/operator key/);
      expectRateHeaders(r);
    }
    expect(await snapshot(ws.workspaceId)).toEqual(before);
    expect((await t.sql.query('SELECT count(*)::int AS n FROM workspaces')).rows[0].n).toBe(workspacesBefore);
  });

  it.each(workspaceRoutes.filter(([, r]) => !r.write))('lets a read-only key call %s', async (_name, route) => {
    const { ws, fx } = await tenantWithObjects();
    const reader = await ws.keyWithScopes(['read']);
    const r = await call(reader, route, fx);
    expect(r.status).toBe(200);
    expect(r.body).toEqual((await call(ws, route, fx)).body);
  });

  it.each(workspaceRoutes.filter(([, r]) => r.write))('answers %s with 403 FORBIDDEN for a read-only key, and changes nothing', async (_name, route) => {
    const { ws, fx } = await tenantWithObjects();
    const reader = await ws.keyWithScopes(['read']);
    const before = await snapshot(ws.workspaceId);
    const simulatorAccounts = t.sandbox.bluesky.accounts.size;
    const r = await call(reader, route, fx, { 'idempotency-key': `ro-${randomBytes(4).toString('hex')}` });
    expectError(r, 403, 'FORBIDDEN');
    expect(r.body.error.message).toMatch(/"(write|approve)" scope/);
    expectRateHeaders(r);
    expect(await snapshot(ws.workspaceId)).toEqual(before);
    expect(t.sandbox.bluesky.accounts.size).toBe(simulatorAccounts);
    // The same call with the read-write key goes through, so the 403 was about the scope alone.
    expect((await call(ws, route, fx)).status).toBeLessThan(300);
  });

  it('stores a key created with scopes ["read"] as read-only and ["write"] as read and write', async () => {
    const ws = await t.workspace();
    const ro = await t.operator.post(`/v1/workspaces/${ws.workspaceId}/api_keys`, { name: 'ro', scopes: ['read'] });
    const rw = await t.operator.post(`/v1/workspaces/${ws.workspaceId}/api_keys`, { name: 'rw', scopes: ['write'] });
    expect(ro.body.scopes).toEqual(['read']);
    expect(rw.body.scopes).toEqual(['read', 'write']);
    expect((await client(t.url, rw.body.key).get('/v1/posts')).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('rate-limit headers', () => {
  it.each(workspaceRoutes)('are on every answer of %s to a workspace key, success or error', async (_name, route) => {
    const { ws, fx } = await tenantWithObjects();
    const ok = await call(ws, route, fx);
    expect(ok.status).toBeLessThan(300);
    expectRateHeaders(ok);
    // An error of the same route: another object that does not exist, or a body that is not JSON.
    const missing = { ...fx, postId: newId('post'), accountId: newId('account'), mediaId: newId('media'), connectionId: newId('connection'), webhookId: newId('webhook'), deliveryId: `dlv_${randomBytes(16).toString('hex')}`, queueId: newId('queue'), pendingPostId: newId('post') };
    const bad = [fx.postId, fx.accountId, fx.mediaId, fx.connectionId, fx.webhookId, fx.queueId, fx.pendingPostId].some((id) => route.path(fx).includes(id))
      ? await call(ws, route, missing)
      : await ws.request(route.method, `${route.path(fx)}${route.method === 'GET' ? '?limit=0' : ''}`, route.method === 'GET' ? undefined : '{not json');
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expectRateHeaders(bad);
    expect(Number(bad.headers.get('x-ratelimit-limit'))).toBe(t.config.rateLimitPerMinute);
    expect(Number(bad.headers.get('x-ratelimit-remaining'))).toBeLessThan(Number(ok.headers.get('x-ratelimit-remaining')));
    expect(Number(bad.headers.get('x-ratelimit-reset'))).toBeLessThanOrEqual(60);
  });

  it.each(operatorRoutes)('are on every answer of %s to the operator key', async (_name, route) => {
    const { fx } = await tenantWithObjects();
    const ok = await call(t.operator, route, fx);
    expect(ok.status).toBeLessThan(300);
    expectRateHeaders(ok);
    const missing = await call(t.operator, route, { ...fx, workspaceId: newId('workspace') });
    if (route.path(fx).includes(fx.workspaceId)) expect(missing.status).toBe(404);
    expectRateHeaders(missing);
  });

  it.each(PUBLIC_ROUTES)('are not on %s, which needs no key', async (path) => {
    const ws = await t.workspace();
    for (const c of [client(t.url), ws]) {
      const r = await c.get(path);
      expect(r.status).toBeLessThan(300);
      for (const h of RATE_HEADERS) expect(r.headers.get(h)).toBeNull();
      expect(r.headers.get('x-request-id')).toMatch(/^req_/);
    }
  });
});

describe('rate limiting (5 requests a minute)', () => {
  let limited: TestCrier;
  beforeAll(async () => {
    limited = await startTestCrier({ env: { CRIER_RATE_LIMIT_PER_MINUTE: '5' } });
  });
  afterAll(async () => limited?.stop());

  // Workspaces and keys are made in the database here: through the API they would spend the operator's 5.
  async function limitedTenant(): Promise<{ workspaceId: string; keys: Client[] }> {
    const ws = await insertWorkspace(limited.sql, newId('workspace'), 'limited');
    const keys: Client[] = [];
    for (const name of ['first', 'second']) keys.push(client(limited.url, (await createWorkspaceKey(limited.sql, ws.id, name, ['read', 'write'])).secret));
    return { workspaceId: ws.id, keys };
  }

  it('counts down and then answers 429 RATE_LIMITED with Retry-After, changing nothing', async () => {
    const { workspaceId, keys } = await limitedTenant();
    const [key] = keys as [Client];
    const remaining: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = i % 2 ? await key.get(`/v1/posts/${newId('post')}`) : await key.get('/v1/posts');
      expectRateHeaders(r);
      expect(r.headers.get('x-ratelimit-limit')).toBe('5');
      remaining.push(Number(r.headers.get('x-ratelimit-remaining')));
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);

    for (const r of [await key.get('/v1/posts'), await key.post('/v1/posts', { text: 'over the limit', account_ids: [newId('account')] })]) {
      expectError(r, 429, 'RATE_LIMITED');
      expectRateHeaders(r);
      expect(r.headers.get('x-ratelimit-remaining')).toBe('0');
      const retryAfter = Number(r.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(r.body.error.message).toMatch(/5 requests per minute/);
    }
    const posts = await limited.sql.query('SELECT count(*)::int AS n FROM posts WHERE workspace_id = $1', [workspaceId]);
    expect(posts.rows[0].n).toBe(0);
  });

  it('limits per key: another key of the same workspace still gets through', async () => {
    const { keys } = await limitedTenant();
    const [first, second] = keys as [Client, Client];
    for (let i = 0; i < 5; i++) expect((await first.get('/v1/accounts')).status).toBe(200);
    expectError(await first.get('/v1/accounts'), 429, 'RATE_LIMITED');
    const other = await second.get('/v1/accounts');
    expect(other.status).toBe(200);
    expect(other.headers.get('x-ratelimit-remaining')).toBe('4');
  });

  it('counts refused calls too: 403s use up a key\'s allowance', async () => {
    const ws = await insertWorkspace(limited.sql, newId('workspace'), 'limited');
    const reader = client(limited.url, (await createWorkspaceKey(limited.sql, ws.id, 'ro', ['read'])).secret);
    for (let i = 0; i < 5; i++) expectError(await reader.post('/v1/posts', { text: 'x', account_ids: [newId('account')] }), 403, 'FORBIDDEN');
    expectError(await reader.get('/v1/posts'), 429, 'RATE_LIMITED');
  });

  it('does not limit the public routes', async () => {
    for (let i = 0; i < 8; i++) expect((await client(limited.url).get('/health/live')).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------------------

/** Every row of every table in the database, as text. */
async function databaseDump(): Promise<string> {
  const tables = (await t.sql.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).rows.map((r) => r.tablename as string);
  expect(tables).toEqual(expect.arrayContaining(['api_keys', 'accounts', 'events', 'idempotency_keys']));
  const parts: string[] = [];
  for (const table of tables) {
    const { rows } = await t.sql.query(`SELECT t::text AS row FROM "${table}" t`);
    parts.push(...rows.map((r) => r.row as string));
  }
  return parts.join('\n');
}

/** A text and its encodings as Postgres prints them (bytea as hex) or as they might be stored. */
const encodings = (s: string) => [s, Buffer.from(s).toString('hex'), Buffer.from(s).toString('base64')];

describe('secrets', () => {
  it('stores an API key only as the SHA-256 of its secret', async () => {
    const ws = await t.workspace();
    const created = await t.operator.post(`/v1/workspaces/${ws.workspaceId}/api_keys`, { name: 'hashed' });
    const secret: string = created.body.key;
    expect(secret).toMatch(/^crier_sk_[0-9A-Za-z]{43}$/);
    const { rows } = await t.sql.query('SELECT * FROM api_keys WHERE id = $1', [created.body.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].key_hash.equals(sha256(secret))).toBe(true);
    expect(rows[0].display_hint).toBe(`crier_sk_…${secret.slice(-4)}`);
    const row = JSON.stringify(rows[0]);
    for (const form of encodings(secret)) expect(row).not.toContain(form);
    expect(row).not.toContain(secret.slice(9, 30));
  });

  it('never stores a secret anywhere in the database, even for a key created with an Idempotency-Key', async () => {
    const ws = await t.workspace();
    const body = { name: 'retried', scopes: ['read'] };
    const first = await t.operator.post(`/v1/workspaces/${ws.workspaceId}/api_keys`, body, { 'idempotency-key': `key-${ws.workspaceId}` });
    expect(first.status).toBe(201);
    const dump = await databaseDump();
    for (const secret of [first.body.key, ws.key, ADMIN_KEY]) {
      for (const form of encodings(secret)) expect(dump).not.toContain(form);
    }
    // A replay still answers the same creation (one key), and the key it gives works.
    const replay = await t.operator.post(`/v1/workspaces/${ws.workspaceId}/api_keys`, body, { 'idempotency-key': `key-${ws.workspaceId}` });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect((await client(t.url, replay.body.key).get('/v1/posts')).status).toBe(200);
    expect((await t.operator.get(`/v1/workspaces/${ws.workspaceId}/api_keys`)).body.data).toHaveLength(2);
  });

  it('returns the secret only in the creation response, never when listing or revoking', async () => {
    const ws = await t.workspace();
    const created = await t.operator.post(`/v1/workspaces/${ws.workspaceId}/api_keys`, { name: 'shown once' });
    expect(Object.keys(created.body).sort()).toEqual(['created_at', 'display_hint', 'id', 'key', 'last_used_at', 'name', 'revoked_at', 'scopes', 'workspace_id']);
    const listed = await t.operator.get(`/v1/workspaces/${ws.workspaceId}/api_keys`);
    expect(listed.body.data).toHaveLength(2);
    for (const k of listed.body.data) {
      expect(k).not.toHaveProperty('key');
      expect(k).not.toHaveProperty('key_hash');
    }
    const revoked = await t.operator.delete(`/v1/workspaces/${ws.workspaceId}/api_keys/${created.body.id}`);
    const workspace = await t.operator.get(`/v1/workspaces/${ws.workspaceId}`);
    const all = await t.operator.get('/v1/workspaces?limit=100');
    for (const r of [listed, revoked, workspace, all]) {
      for (const secret of [created.body.key, ws.key]) expect(JSON.stringify(r.body)).not.toContain(secret);
      expect(JSON.stringify(r.body)).not.toMatch(/crier_sk_[0-9A-Za-z]{20}/);
    }
  });

  it('stores account credentials as ciphertext holding neither the password nor a token', async () => {
    const ws = await t.workspace();
    const id = await ws.account();
    const did = (await ws.get(`/v1/accounts/${id}`)).body.external_id as string;
    const password = t.sandbox.bluesky.accounts.get(did)!.password;
    expect(password.length).toBeGreaterThanOrEqual(8);

    const stored: Buffer = (await t.sql.query('SELECT credentials FROM accounts WHERE id = $1', [id])).rows[0].credentials;
    // Without opening it: none of what the simulator knows, no JSON field name of a session (strings long
    // enough that random ciphertext bytes cannot match them by chance).
    const handle = t.sandbox.bluesky.accounts.get(did)!.handle;
    for (const plain of [password, did, handle, '"accessJwt"', '"refreshJwt"', '"appPassword"']) {
      expect(stored.includes(Buffer.from(plain)), plain).toBe(false);
    }
    // It is Crier's envelope: it opens with the key ring, bound to this account, and holds the session.
    const opened = openJson<{ accessJwt: string; refreshJwt: string; appPassword: string; did: string }>(t.crier.ctx.keyRing, stored, credentialsAad(id));
    expect(opened.did).toBe(did);
    expect(opened.appPassword).toBe(password);
    const tokens = [opened.accessJwt, opened.refreshJwt];
    for (const token of tokens) expect(token).toMatch(/^eyJ/);

    for (const secret of [password, ...tokens]) {
      expect(stored.includes(Buffer.from(secret))).toBe(false);
      expect(stored.toString('latin1')).not.toContain(secret);
    }
    const dump = await databaseDump();
    for (const secret of [password, ...tokens]) for (const form of encodings(secret)) expect(dump).not.toContain(form);
    expect(dump).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
  });

  it('never returns account credentials from the API', async () => {
    const ws = await t.workspace();
    const created = await ws.post('/v1/accounts', { platform: 'bluesky', sandbox: true, username: 'secretive' });
    const id = created.body.id as string;
    const password = t.sandbox.bluesky.accounts.get(created.body.external_id)!.password;
    const answers = [created, await ws.get(`/v1/accounts/${id}`), await ws.get('/v1/accounts'), await ws.delete(`/v1/accounts/${id}`), await ws.get(`/v1/accounts/${id}`)];
    for (const r of answers) {
      expect(r.status).toBe(r === created ? 201 : 200);
      const text = JSON.stringify(r.body);
      expect(text).not.toContain(password);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
      expect(text).not.toMatch(/credentials|jwt|password|token/i);
    }
    expect(Object.keys(answers[1]!.body).sort()).toEqual(['auth_expires_at', 'blocked_until', 'created_at', 'display_name', 'external_id', 'id', 'kind', 'platform', 'route', 'sandbox', 'status', 'status_reason', 'updated_at', 'username']);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('signed media URLs', () => {
  it('answer 403 without a valid, unexpired signature for that very file, whatever API key is sent', async () => {
    const { ws: a } = await tenantWithObjects('A');
    const { fx: bFx } = await tenantWithObjects('B');
    const signer = t.crier.ctx.media.signer;
    const soon = new Date(Date.now() + 60_000);
    const forB = signer.sign('download', bFx.mediaId, 'original', soon);
    const otherFile = signer.sign('download', newId('media'), 'original', soon);
    const uploadSig = signer.sign('upload', bFx.mediaId, 'original', soon);
    const past = signer.sign('download', bFx.mediaId, 'original', new Date(Date.now() - 1000));
    for (const query of ['', otherFile, uploadSig, past, forB.replace(/kid=[^&]+/, 'kid=other'), forB.replace(/exp=\d+/, `exp=${Math.floor(soon.getTime() / 1000) + 3600}`)]) {
      for (const key of [undefined, a.key, ADMIN_KEY]) {
        const r = await client(t.url, key).get(`/media/${bFx.mediaId}/original?${query}`);
        expectError(r, 403, 'FORBIDDEN');
      }
    }
    // A download signature (or none, or an expired one) never authorizes an upload.
    for (const query of ['', forB, past, otherFile]) {
      const put = await client(t.url, a.key).request('PUT', `/v1/media/${bFx.mediaId}/content?${query}`, 'bytes', { 'content-type': 'image/png' });
      expectError(put, 403, 'FORBIDDEN');
    }
    expect((await client(t.url).get(`/media/${bFx.mediaId}/original?${forB}`)).status).toBe(200);
  });
});
