// Error suite: bad input on every route gets a 4xx with the one error envelope and a documented code —
// never a 500, never a stack trace, never a half-done change. Also: docs/errors.md and the OpenAPI document
// agree with the code.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORMS } from '../src/connectors/types.js';
import { getConnector } from '../src/connectors/registry.js';
import { API_ERRORS, type ApiErrorCode } from '../src/http/error-codes.js';
import { renderErrorsDoc } from '../src/http/error-docs.js';
import { newId } from '../src/lib/ids.js';
import { ADMIN_KEY, client, startTestCrier, type ApiResponse, type Client, type Tenant, type TestCrier } from './support/harness.js';
import { registeredRoutes } from './support/routes.js';

let t: TestCrier;
beforeAll(async () => {
  // Hundreds of fixtures a minute from one operator key: the rate limit is tested in security.test.ts.
  t = await startTestCrier({ env: { CRIER_RATE_LIMIT_PER_MINUTE: '1000000' } });
});
afterAll(async () => t?.stop());

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

/** Every code any test here saw in an error answer; the last test checks them against the closed list. */
const seenCodes = new Set<string>();

/** The one error envelope: the documented code and status, the request id in header and body, no internals. */
function expectError(r: ApiResponse, status: number, code: ApiErrorCode) {
  if (r.body?.error?.code) seenCodes.add(r.body.error.code);
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expectEnvelope(r);
}

function expectEnvelope(r: ApiResponse) {
  expect(r.status).toBeGreaterThanOrEqual(400);
  expect(r.status).toBeLessThan(500);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(r.body)).toEqual(['error']);
  const { error } = r.body;
  seenCodes.add(error.code);
  expect(Object.keys(error).sort()).toEqual(['code', 'details', 'message', 'request_id']);
  expect(Object.keys(API_ERRORS)).toContain(error.code);
  expect(API_ERRORS[error.code as ApiErrorCode].status).toBe(r.status);
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  expect(Array.isArray(error.details)).toBe(true);
  for (const d of error.details) expect(typeof d.message).toBe('string');
  expect(error.request_id).toMatch(/^req_/);
  expect(r.headers.get('x-request-id')).toBe(error.request_id);
  const text = JSON.stringify(r.body);
  expect(text).not.toMatch(/\bat [\w.<>]+ \(|\.(ts|js|mjs):\d+|node_modules|stack|FST_|pg_|syntax error/i);
}

/** The detail naming `field`. */
const detailOf = (r: ApiResponse, field: string) => r.body.error.details.find((d: any) => d.field === field);

type Raw = { key?: string; body?: string | Uint8Array | ReadableStream; headers?: Record<string, string> };
/** A request with full control over the body and its content type (the harness client always sends JSON). */
async function raw(base: string, method: string, path: string, opts: Raw = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers['authorization'] = `Bearer ${opts.key}`;
  const init = { method, headers, body: opts.body, ...(opts.body instanceof ReadableStream ? { duplex: 'half' } : {}) } as Parameters<typeof fetch>[1];
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

/** Bytes written straight to the socket (for requests no HTTP client would send); the raw answer back. */
function rawSocket(base: string, request: string): Promise<{ status: number; headers: Record<string, string>; body: any }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      let body: any = rest.join('\r\n\r\n');
      try {
        body = JSON.parse(body);
      } catch {
        // not JSON
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(request.slice(0, 60))}`)));
  });
}

// ---------------------------------------------------------------------------------------------------------
// Routes and fixtures

type Fx = { workspaceId: string; accountId: string; postId: string; keyId: string; mediaId: string };
const TINY_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
type Fixture = { ws: Tenant; fx: Fx; on: TestCrier };

async function setup(on: TestCrier = t): Promise<Fixture> {
  const ws = await on.workspace();
  const accountId = await ws.account();
  const draft = await ws.post('/v1/posts', { text: 'a draft', account_ids: [accountId], draft: true });
  expect(draft.status).toBe(201);
  const key = await on.sql.query('SELECT id FROM api_keys WHERE workspace_id = $1', [ws.workspaceId]);
  const form = new FormData();
  form.append('file', new Blob([TINY_PNG], { type: 'image/png' }), 'dot.png');
  const media = await fetch(`${on.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  expect(media.status).toBe(201);
  const mediaId = ((await media.json()) as { id: string }).id;
  // A sandbox LATE key, for the provider routes that need one.
  expect((await ws.request('PUT', '/v1/providers/late', { sandbox: true })).status).toBe(201);
  return { ws, on, fx: { workspaceId: ws.workspaceId, accountId, postId: draft.body.id, keyId: key.rows[0].id, mediaId } };
}

type BodyRoute = { method: string; path: (f: Fx) => string; valid: (f: Fx) => Record<string, unknown>; required: string[]; operator?: boolean };

const BODY_ROUTES: Record<string, BodyRoute> = {
  'POST /v1/workspaces': { method: 'POST', path: () => '/v1/workspaces', valid: () => ({ name: 'Acme' }), required: ['name'], operator: true },
  'POST /v1/workspaces/{id}/api_keys': { method: 'POST', path: (f) => `/v1/workspaces/${f.workspaceId}/api_keys`, valid: () => ({ name: 'ci', scopes: ['read'] }), required: ['name'], operator: true },
  'POST /v1/accounts': { method: 'POST', path: () => '/v1/accounts', valid: () => ({ platform: 'bluesky', sandbox: true, username: 'erin' }), required: ['platform', 'sandbox', 'username'] },
  'POST /v1/posts': {
    method: 'POST',
    path: () => '/v1/posts',
    valid: (f) => ({ text: 'hello', account_ids: [f.accountId], draft: true, scheduled_at: inSeconds(3600), timezone: 'Europe/Berlin', options: { bluesky: { langs: ['en'] } } }),
    required: ['text', 'account_ids'],
  },
  'PATCH /v1/posts/{id}': {
    method: 'PATCH',
    path: (f) => `/v1/posts/${f.postId}`,
    valid: (f) => ({ text: 'changed', account_ids: [f.accountId], scheduled_at: inSeconds(3600), timezone: 'UTC', options: { bluesky: { langs: ['de'] } } }),
    required: [],
  },
  'POST /v1/posts/{id}/schedule': { method: 'POST', path: (f) => `/v1/posts/${f.postId}/schedule`, valid: () => ({ scheduled_at: inSeconds(3600), timezone: 'Europe/Berlin' }), required: ['scheduled_at'] },
  'POST /v1/media/uploads': { method: 'POST', path: () => '/v1/media/uploads', valid: () => ({ filename: 'a.png', content_type: 'image/png', size: 1000 }), required: ['filename', 'content_type', 'size'] },
  'POST /v1/queues': { method: 'POST', path: () => '/v1/queues', valid: () => ({ name: 'weekdays', timezone: 'Europe/Berlin', timeslots: [{ day: 'monday', time: '09:00' }], jitter_minutes: 10 }), required: ['name', 'timezone', 'timeslots'] },
  'POST /v1/webhooks': { method: 'POST', path: () => '/v1/webhooks', valid: () => ({ url: 'https://hooks.example.com/crier', events: ['post.created'], description: 'ops' }), required: [] },
  'POST /v1/connections': { method: 'POST', path: () => '/v1/connections', valid: () => ({ platform: 'x', redirect_url: 'https://app.example.com/back', sandbox: true }), required: ['platform', 'redirect_url'] },
  'PUT /v1/apps/{platform}': { method: 'PUT', path: () => '/v1/apps/x', valid: () => ({ client_id: 'client', client_secret: 'secret' }), required: ['client_id', 'client_secret'] },
  'PUT /v1/providers/{provider}': { method: 'PUT', path: () => '/v1/providers/postforme', valid: () => ({ api_key: 'pfm_test_key_1234', position: 1 }), required: [] },
  'POST /v1/providers/{provider}/connect': { method: 'POST', path: () => '/v1/providers/late/connect', valid: () => ({ platform: 'x', redirect_url: 'https://app.example.com/back' }), required: ['platform', 'redirect_url'] },
};

/** Write routes that take no body, but still read one if it is sent. */
const BODYLESS_ROUTES: Record<string, Omit<BodyRoute, 'valid' | 'required'>> = {
  'POST /v1/posts/{id}/publish': { method: 'POST', path: (f) => `/v1/posts/${f.postId}/publish` },
  'DELETE /v1/posts/{id}': { method: 'DELETE', path: (f) => `/v1/posts/${f.postId}` },
  'DELETE /v1/accounts/{id}': { method: 'DELETE', path: (f) => `/v1/accounts/${f.accountId}` },
  'POST /v1/media/{id}/complete': { method: 'POST', path: (f) => `/v1/media/${f.mediaId}/complete` },
  'DELETE /v1/media/{id}': { method: 'DELETE', path: (f) => `/v1/media/${f.mediaId}` },
  'DELETE /v1/workspaces/{id}/api_keys/{key_id}': { method: 'DELETE', path: (f) => `/v1/workspaces/${f.workspaceId}/api_keys/${f.keyId}`, operator: true },
};

const bodyRoutes = Object.entries(BODY_ROUTES);
const writeRoutes = [...bodyRoutes, ...Object.entries(BODYLESS_ROUTES)];
const keyFor = (route: { operator?: boolean }, f: Fixture) => (route.operator ? ADMIN_KEY : f.ws.key);
const clientFor = (route: { operator?: boolean }, f: Fixture): Client => (route.operator ? f.on.operator : f.ws);
/** A valid body for the route (an empty object for a route that takes none). */
const validOf = (route: object, fx: Fx) => (route as Partial<BodyRoute>).valid?.(fx) ?? {};

/**
 * What a request could create or change: workspaces and live keys anywhere (operator routes), and the
 * fixture workspace's rows (scoped, since the worker may still be finishing an earlier test's post).
 */
async function state(f: Fixture) {
  const { rows } = await f.on.sql.query(
    `SELECT (SELECT count(*) FROM workspaces)::int AS workspaces, (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL)::int AS live_keys,
            (SELECT count(*) FROM accounts WHERE workspace_id = $1 AND status = 'connected')::int AS accounts,
            (SELECT count(*) FROM posts WHERE workspace_id = $1)::int AS posts,
            (SELECT max(updated_at) FROM posts WHERE workspace_id = $1) AS posts_updated,
            (SELECT array_agg(status ORDER BY id) FROM publications WHERE workspace_id = $1) AS publications,
            (SELECT count(*) FROM events WHERE workspace_id = $1)::int AS events`,
    [f.fx.workspaceId],
  );
  return { ...rows[0], simulator: f.on.sandbox.bluesky.accounts.size };
}

// ---------------------------------------------------------------------------------------------------------

describe('bodies that are not JSON objects', () => {
  const malformed = ['{', '{"name": }', "{'name': 'x'}", '{"name":"x"}}', '[1,]', 'nul', '{"a":1,}', '"unterminated', '{"a":"\\x"}'];

  it.each(writeRoutes)('answers %s with 400 MALFORMED_JSON for a body that does not parse, and changes nothing', async (_name, route) => {
    const f = await setup();
    const before = await state(f);
    for (const body of malformed) {
      const r = await raw(t.url, route.method, route.path(f.fx), { key: keyFor(route, f), body, headers: { 'content-type': 'application/json' } });
      expectError(r, 400, 'MALFORMED_JSON');
    }
    expect(await state(f)).toEqual(before);
  });

  it.each(bodyRoutes)('answers %s with 400 VALIDATION_FAILED for JSON that is not an object, or no body at all', async (_name, route) => {
    const f = await setup();
    const before = await state(f);
    for (const body of ['[]', 'null', '42', '"text"', 'true', '', '   ']) {
      const r = await raw(t.url, route.method, route.path(f.fx), { key: keyFor(route, f), body, headers: { 'content-type': 'application/json' } });
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error.details).toContainEqual({ field: 'body', message: 'must be object' });
    }
    expectError(await raw(t.url, route.method, route.path(f.fx), { key: keyFor(route, f) }), 400, 'VALIDATION_FAILED');
    expect(await state(f)).toEqual(before);
  });

  it.each(writeRoutes)('answers %s with 415 UNSUPPORTED_MEDIA_TYPE for a body that is not application/json', async (name, route) => {
    const f = await setup();
    const before = await state(f);
    const body = JSON.stringify(validOf(route, f.fx));
    const types = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/merge-patch+json', 'application/jsonx', 'json'];
    for (const type of types) {
      const r = await raw(t.url, route.method, route.path(f.fx), { key: keyFor(route, f), body, headers: { 'content-type': type } });
      expect(r.status, `${name} as ${type}`).toBe(415);
      expectError(r, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    // No Content-Type at all (a byte body makes fetch send none).
    expectError(await raw(t.url, route.method, route.path(f.fx), { key: keyFor(route, f), body: new TextEncoder().encode(body) }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await state(f)).toEqual(before);
    // A charset parameter is still JSON.
    const ok = await raw(t.url, route.method, route.path(f.fx), { key: keyFor(route, f), body, headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(ok.status).toBeLessThan(300);
  });
});

describe('requests that are not valid HTTP', () => {
  // Refused by Node's HTTP parser before any route runs; still the envelope, with a request id.
  const broken = (key: string, accountId: string): [string, string][] => {
    const body = JSON.stringify({ text: 'x', account_ids: [accountId], draft: true });
    const auth = `Authorization: Bearer ${key}\r\nContent-Type: application/json`;
    return [
      ['a Content-Length that is not a number', `POST /v1/posts HTTP/1.1\r\nHost: crier\r\n${auth}\r\nContent-Length: abc\r\n\r\n${body}`],
      ['two different Content-Lengths', `POST /v1/posts HTTP/1.1\r\nHost: crier\r\n${auth}\r\nContent-Length: ${body.length}\r\nContent-Length: 3\r\n\r\n${body}`],
      ['Content-Length together with Transfer-Encoding', `POST /v1/posts HTTP/1.1\r\nHost: crier\r\n${auth}\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
      ['a chunk size that is not hex', `POST /v1/posts HTTP/1.1\r\nHost: crier\r\n${auth}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`],
      ['a method HTTP does not have', `BREW /v1/posts HTTP/1.1\r\nHost: crier\r\n${auth}\r\n\r\n`],
      ['a header name with a space', `GET /v1/posts HTTP/1.1\r\nHost: crier\r\nBad Header: x\r\n\r\n`],
      ['a request line that is not HTTP', `hello crier\r\n\r\n`],
    ];
  };

  it('answers each with 400 VALIDATION_FAILED in the error envelope and an X-Request-Id, and creates nothing', async () => {
    const f = await setup();
    const before = await state(f);
    for (const [what, request] of broken(f.ws.key, f.fx.accountId)) {
      const r = await rawSocket(t.url, request);
      expect({ what, status: r.status, code: r.body?.error?.code }).toEqual({ what, status: 400, code: 'VALIDATION_FAILED' });
      seenCodes.add(r.body.error.code);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(r.body.error).sort()).toEqual(['code', 'details', 'message', 'request_id']);
      expect(r.body.error.request_id).toMatch(/^req_/);
      expect(r.headers['x-request-id']).toBe(r.body.error.request_id);
      expect(JSON.stringify(r.body)).not.toMatch(/HPE_|statusCode|Client Error/);
    }
    expect(await state(f)).toEqual(before);
  });

  it('keeps 431 for headers over the size limit, with a request id', async () => {
    const r = await rawSocket(t.url, `GET /v1/posts HTTP/1.1\r\nHost: crier\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(r.status).toBe(431);
    expect(r.headers['x-request-id']).toMatch(/^req_/);
    expect(r.body.request_id).toBe(r.headers['x-request-id']);
    expect(r.body.message).toMatch(/headers are too large/);
  });

  it('still answers a well-formed request sent the same way', async () => {
    const f = await setup();
    const r = await rawSocket(t.url, `GET /v1/posts HTTP/1.1\r\nHost: crier\r\nAuthorization: Bearer ${f.ws.key}\r\nConnection: close\r\n\r\n`);
    expect(r.status).toBe(200);
    expect(r.body.data.map((p: any) => p.id)).toEqual([f.fx.postId]);
  });
});

describe('bodies over the size limit (2048 bytes)', () => {
  let small: TestCrier;
  beforeAll(async () => {
    small = await startTestCrier({ env: { CRIER_BODY_LIMIT_BYTES: '2048' } });
  });
  afterAll(async () => small?.stop());

  it.each(writeRoutes)('answers %s with 413 PAYLOAD_TOO_LARGE, whether the length is declared or streamed', async (_name, route) => {
    const f = await setup(small);
    const before = await state(f);
    const body = JSON.stringify({ ...validOf(route, f.fx), padding: 'x'.repeat(3000) });
    const key = keyFor(route, f);
    const declared = await raw(small.url, route.method, route.path(f.fx), { key, body, headers: { 'content-type': 'application/json' } });
    expectError(declared, 413, 'PAYLOAD_TOO_LARGE');
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < body.length; i += 1000) c.enqueue(new TextEncoder().encode(body.slice(i, i + 1000)));
        c.close();
      },
    });
    const streamed = await raw(small.url, route.method, route.path(f.fx), { key, body: stream, headers: { 'content-type': 'application/json' } });
    expectError(streamed, 413, 'PAYLOAD_TOO_LARGE');
    expect(await state(f)).toEqual(before);
  });

  it('reads a body just under the limit, then judges its content', async () => {
    const f = await setup(small);
    const r = await f.ws.post('/v1/posts', { text: 'y'.repeat(280), account_ids: [f.fx.accountId], draft: true, options: { bluesky: { text: 'z'.repeat(1500) } } }, { 'idempotency-key': 'near-limit' });
    // Accepted by size; refused by Bluesky's limit, which shows the body was read and validated.
    expectError(r, 422, 'CONTENT_INVALID');
  });
});

describe('fields', () => {
  it.each(bodyRoutes)('answers %s with 400 VALIDATION_FAILED naming an unknown field, and changes nothing', async (_name, route) => {
    const f = await setup();
    const before = await state(f);
    for (const extra of [{ surprise: 1 }, { workspace_id: newId('workspace') }, { id: newId('post') }, { Text: 'x' }]) {
      const r = await raw(t.url, route.method, route.path(f.fx), { key: keyFor(route, f), body: JSON.stringify({ ...route.valid(f.fx), ...extra }), headers: { 'content-type': 'application/json' } });
      expectError(r, 400, 'VALIDATION_FAILED');
      const name = Object.keys(extra)[0]!;
      expect(r.body.error.details).toEqual([{ field: `body.${name}`, message: `unknown field "${name}"` }]);
    }
    expect(await state(f)).toEqual(before);
  });

  it.each(bodyRoutes)('answers %s with 400 VALIDATION_FAILED naming each field of the wrong type', async (_name, route) => {
    const f = await setup();
    const before = await state(f);
    const wrong = (v: unknown): unknown[] =>
      typeof v === 'string' ? [42, true, ['x'], { a: 1 }]
      : typeof v === 'boolean' ? ['true', 1]
      : typeof v === 'number' ? [String(v), true, [v], { a: 1 }]
      : Array.isArray(v) ? ['x', { 0: 'x' }, 1]
      : [['x'], 'x', 1];
    const valid = route.valid(f.fx);
    for (const [field, value] of Object.entries(valid)) {
      for (const bad of wrong(value)) {
        const r = await clientFor(route, f).request(route.method, route.path(f.fx), { ...valid, [field]: bad });
        expectError(r, 400, 'VALIDATION_FAILED');
        expect(r.body.error.details.some((d: any) => d.field === `body.${field}` || String(d.field).startsWith(`body.${field}.`)), `${field} = ${JSON.stringify(bad)}: ${r.body.error.message}`).toBe(true);
      }
    }
    expect(await state(f)).toEqual(before);
  });

  it.each(bodyRoutes)('answers %s with 400 VALIDATION_FAILED naming each missing required field', async (_name, route) => {
    const f = await setup();
    const before = await state(f);
    const valid = route.valid(f.fx);
    for (const field of route.required) {
      const { [field]: _dropped, ...rest } = valid;
      const r = await clientFor(route, f).request(route.method, route.path(f.fx), rest);
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error.details).toContainEqual({ field: `body.${field}`, message: 'is required' });
    }
    const empty = await clientFor(route, f).request(route.method, route.path(f.fx), {});
    expectError(empty, 400, 'VALIDATION_FAILED');
    expect(await state(f)).toEqual(before);
  });

  it.each(bodyRoutes)('answers %s with 400 for strings Crier cannot store (NUL, unpaired surrogates) and absurd nesting, never a 500', async (_name, route) => {
    const f = await setup();
    const before = await state(f);
    const valid = route.valid(f.fx);
    const send = (body: string, headers: Record<string, string> = {}) =>
      raw(t.url, route.method, route.path(f.fx), { key: keyFor(route, f), body, headers: { 'content-type': 'application/json', ...headers } });
    const strings = Object.entries(valid).filter(([, v]) => typeof v === 'string');
    expect(strings.length).toBeGreaterThan(0);
    for (const [field] of strings) {
      for (const [bad, why] of [['a\\u0000b', /NUL/], ['x\\ud83d', /surrogate/], ['\\udc00y', /surrogate/]] as const) {
        // Written as JSON escapes: JSON.stringify would keep a lone surrogate, but this is what a client sends.
        const body = JSON.stringify({ ...valid, [field]: 'PLACEHOLDER' }).replace('"PLACEHOLDER"', `"${bad}"`);
        const r = await send(body);
        expectError(r, 400, 'VALIDATION_FAILED');
        expect(detailOf(r, `body.${field}`)?.message).toMatch(why);
      }
    }
    // A NUL in a key, deep inside.
    expectError(await send(JSON.stringify({ ...valid, options: { bluesky: { 'la\u0000ngs': [] } } })), 400, 'VALIDATION_FAILED');
    // Nesting far deeper than any real body, with and without an Idempotency-Key (which hashes the body).
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const headerSets: Record<string, string>[] = [{}, { 'idempotency-key': `deep-${f.fx.postId}` }];
    for (const headers of headerSets) {
      const r = await send(JSON.stringify({ ...valid, options: { bluesky: { nested: 'DEEP' } } }).replace('"DEEP"', deep), headers);
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error.message).toMatch(/nests deeper than/);
    }
    expect(await state(f)).toEqual(before);
  });

  it('accepts a NUL-free text with every other kind of character, and stores it exactly', async () => {
    const f = await setup();
    const text = 'tab\tnewline\n"quotes" \\ émoji 😀 👨‍👩‍👧‍👦 🇩🇪 e\u0301 \u200b zero-width, RTL \u202e ‮';
    const r = await f.ws.post('/v1/posts', { text, account_ids: [f.fx.accountId], draft: true });
    expect(r.status).toBe(201);
    expect((await f.ws.get(`/v1/posts/${r.body.id}`)).body.text).toBe(text);
  });

  it('answers 400 for an Idempotency-Key that is not 1-255 visible ASCII characters, on every creating route', async () => {
    const f = await setup();
    const before = await state(f);
    for (const name of ['POST /v1/workspaces', 'POST /v1/workspaces/{id}/api_keys', 'POST /v1/accounts', 'POST /v1/posts']) {
      const route = BODY_ROUTES[name]!;
      for (const idem of ['has space', 'x'.repeat(256), 'tab\there']) {
        const r = await raw(t.url, route.method, route.path(f.fx), { key: keyFor(route, f), body: JSON.stringify(route.valid(f.fx)), headers: { 'content-type': 'application/json', 'idempotency-key': idem } });
        expectError(r, 400, 'VALIDATION_FAILED');
        expect(detailOf(r, 'header.idempotency-key')).toBeDefined();
      }
    }
    expect(await state(f)).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('posts', () => {
  const tooLong = (r: ApiResponse, accountIds: string[], limit: number, actual: number) => {
    expectError(r, 422, 'CONTENT_INVALID');
    expect(r.body.error.details).toContainEqual({ platform: 'bluesky', account_ids: accountIds, code: 'TEXT_TOO_LONG', field: 'text', limit, actual, message: expect.any(String) });
  };

  it('answers 422 CONTENT_INVALID with the platform, accounts, limit and actual length for text too long for Bluesky', async () => {
    const f = await setup();
    const second = await f.ws.account();
    const before = await state(f);
    const r = await f.ws.post('/v1/posts', { text: 'x'.repeat(301), account_ids: [f.fx.accountId, second] });
    tooLong(r, [f.fx.accountId, second], 300, 301);
    expect(r.body.error.details).toHaveLength(1); // one problem per platform, not per account
    expect(r.body.error.message).toContain('bluesky');
    // PATCH and the per-platform text override are checked the same way.
    tooLong(await f.ws.patch(`/v1/posts/${f.fx.postId}`, { text: 'x'.repeat(301) }), [f.fx.accountId], 300, 301);
    tooLong(await f.ws.post('/v1/posts', { text: 'short', account_ids: [f.fx.accountId], options: { bluesky: { text: 'y'.repeat(400) } } }), [f.fx.accountId], 300, 400);
    expect(await state(f)).toEqual(before);
    expect((await f.ws.get(`/v1/posts/${f.fx.postId}`)).body.text).toBe('a draft');
  });

  it.each([
    ['emoji', '😀'],
    ['letters with combining accents', 'e\u0301'],
    ['letters with stacked combining marks', 'a\u0301\u0308\u0323'],
    ['flags', '🇩🇪'],
    ['skin-tone emoji', '👍🏽'],
  ])('counts %s as one grapheme each: 300 are accepted, 301 refused with actual 301', async (_what, unit) => {
    const f = await setup();
    const ok = await f.ws.post('/v1/posts', { text: unit.repeat(300), account_ids: [f.fx.accountId], draft: true });
    expect(ok.status).toBe(201);
    const r = await f.ws.post('/v1/posts', { text: unit.repeat(301), account_ids: [f.fx.accountId], draft: true });
    tooLong(r, [f.fx.accountId], 300, 301);
    expect(r.body.error.details).toHaveLength(1);
    expect(unit.repeat(301).length).toBeGreaterThan(301); // more code units than graphemes
  });

  it("refuses text over Bluesky's 3000 UTF-8 bytes even under 300 graphemes", async () => {
    const f = await setup();
    const family = '👨‍👩‍👧‍👦'; // one grapheme, 25 bytes
    expect((await f.ws.post('/v1/posts', { text: family.repeat(120), account_ids: [f.fx.accountId], draft: true })).status).toBe(201);
    const r = await f.ws.post('/v1/posts', { text: family.repeat(121), account_ids: [f.fx.accountId], draft: true });
    tooLong(r, [f.fx.accountId], 3000, 3025);
    expect(r.body.error.details).toHaveLength(1);
  });

  it("answers 422 ACCOUNT_NOT_FOUND for unknown, malformed and another workspace's account ids, listing each one", async () => {
    const f = await setup();
    const foreign = await (await t.workspace('other')).account();
    const before = await state(f);
    const unknown = [newId('account'), 'nope', f.fx.postId, 'ACCT_' + f.fx.accountId.slice(5), `${f.fx.accountId} `, foreign];
    for (const id of unknown) {
      for (const send of [() => f.ws.post('/v1/posts', { text: 'x', account_ids: [f.fx.accountId, id] }), () => f.ws.patch(`/v1/posts/${f.fx.postId}`, { account_ids: [id] })]) {
        const r = await send();
        expectError(r, 422, 'ACCOUNT_NOT_FOUND');
        expect(r.body.error.details).toEqual([{ field: 'body.account_ids', account_id: id, message: 'not found in this workspace' }]);
      }
    }
    const two = await f.ws.post('/v1/posts', { text: 'x', account_ids: [unknown[0], unknown[1]] });
    expect(two.body.error.details.map((d: any) => d.account_id)).toEqual([unknown[0], unknown[1]]);
    expect(await state(f)).toEqual(before);
  });

  it('answers 400 VALIDATION_FAILED for duplicate, empty, too many or over-long account ids', async () => {
    const f = await setup();
    const before = await state(f);
    const cases: [unknown, string][] = [
      [[f.fx.accountId, f.fx.accountId], 'body.account_ids'],
      [[], 'body.account_ids'],
      [Array.from({ length: 51 }, () => newId('account')), 'body.account_ids'],
      [['a'.repeat(65)], 'body.account_ids.0'],
      [[42], 'body.account_ids.0'],
    ];
    for (const [ids, field] of cases) {
      for (const r of [await f.ws.post('/v1/posts', { text: 'x', account_ids: ids }), await f.ws.patch(`/v1/posts/${f.fx.postId}`, { account_ids: ids })]) {
        expectError(r, 400, 'VALIDATION_FAILED');
        expect(detailOf(r, field), JSON.stringify(r.body.error)).toBeDefined();
      }
    }
    expect(await state(f)).toEqual(before);
  });

  it('answers 400 VALIDATION_FAILED for options of a platform no target account is on, and for unknown or malformed option fields', async () => {
    const f = await setup();
    const before = await state(f);
    const cases: [unknown, string, RegExp][] = [
      [{ mastodon: { visibility: 'public' } }, 'body.options.mastodon', /no target account is on mastodon/],
      [{ linkedin: {} }, 'body.options.linkedin', /no target account/],
      [{ bluesky: { colour: 'red' } }, 'body.options.bluesky', /unknown field "colour"/],
      [{ bluesky: { langs: 'en' } }, 'body.options.bluesky.langs', /array/],
      [{ bluesky: { langs: ['en', 'de', 'fr', 'it'] } }, 'body.options.bluesky.langs', /more than 3/],
      [{ bluesky: { langs: ['not a tag'] } }, 'body.options.bluesky.langs.0', /pattern/],
      [{ bluesky: { text: 42 } }, 'body.options.bluesky.text', /string/],
      [{ bluesky: 'en' }, 'body.options.bluesky', /object/],
    ];
    for (const [options, field, message] of cases) {
      for (const r of [
        await f.ws.post('/v1/posts', { text: 'x', account_ids: [f.fx.accountId], options }),
        await f.ws.patch(`/v1/posts/${f.fx.postId}`, { options }),
      ]) {
        expectError(r, 400, 'VALIDATION_FAILED');
        expect(detailOf(r, field)?.message, `${JSON.stringify(options)}: ${JSON.stringify(r.body.error.details)}`).toMatch(message);
      }
    }
    expect(await state(f)).toEqual(before);
  });

  describe('times', () => {
    const schedulingRoutes = (f: Fixture) => [
      (body: object) => f.ws.post('/v1/posts', { text: 'x', account_ids: [f.fx.accountId], ...body }),
      (body: object) => f.ws.post('/v1/posts', { text: 'x', account_ids: [f.fx.accountId], draft: true, ...body }),
      (body: object) => f.ws.patch(`/v1/posts/${f.fx.postId}`, body),
      (body: object) => f.ws.post(`/v1/posts/${f.fx.postId}/schedule`, body),
    ];

    it('answers 400 SCHEDULED_AT_IN_PAST for a time before now, on create, PATCH and /schedule', async () => {
      const f = await setup();
      const before = await state(f);
      for (const send of schedulingRoutes(f)) {
        for (const at of [inSeconds(-60), '2020-01-01T00:00:00Z', '2020-01-01T00:00:00+14:00']) {
          const r = await send({ scheduled_at: at });
          expectError(r, 400, 'SCHEDULED_AT_IN_PAST');
          expect(r.body.error.details).toEqual([{ field: 'body.scheduled_at', message: 'in the past' }]);
        }
        expectError(await send({ scheduled_at: '2020-01-01T09:00:00', timezone: 'Europe/Berlin' }), 400, 'SCHEDULED_AT_IN_PAST');
      }
      expect(await state(f)).toEqual(before);
    });

    it('answers 400 SCHEDULED_AT_NEEDS_OFFSET for a local time without a timezone, on create, PATCH and /schedule', async () => {
      const f = await setup();
      const before = await state(f);
      const local = inSeconds(86400).slice(0, 19); // "YYYY-MM-DDTHH:MM:SS"
      for (const send of schedulingRoutes(f)) {
        for (const at of [local, local.slice(0, 16), `${local}.123`]) {
          const r = await send({ scheduled_at: at });
          expectError(r, 400, 'SCHEDULED_AT_NEEDS_OFFSET');
          expect(r.body.error.message).toContain(`${at}Z`);
        }
      }
      expect(await state(f)).toEqual(before);
      // The same local time with a zone is fine.
      expect((await f.ws.post(`/v1/posts/${f.fx.postId}/schedule`, { scheduled_at: local, timezone: 'Europe/Berlin' })).status).toBe(200);
    });

    it('answers 400 TIMEZONE_INVALID for a name that is not an IANA zone, on create, PATCH and /schedule', async () => {
      const f = await setup();
      const before = await state(f);
      const local = inSeconds(86400).slice(0, 19);
      for (const send of schedulingRoutes(f)) {
        for (const zone of ['Mars/Olympus_Mons', 'Berlin', '', 'GMT+25', 'Europe/Berlin/Mitte', '../../etc/passwd']) {
          const r = await send({ scheduled_at: local, timezone: zone });
          expectError(r, 400, 'TIMEZONE_INVALID');
          expect(detailOf(r, 'body.timezone')).toBeDefined();
        }
      }
      // Also alone, on a draft without a time.
      expectError(await f.ws.post('/v1/posts', { text: 'x', account_ids: [f.fx.accountId], draft: true, timezone: 'Nowhere/City' }), 400, 'TIMEZONE_INVALID');
      expectError(await f.ws.patch(`/v1/posts/${f.fx.postId}`, { timezone: 'Nowhere/City' }), 400, 'TIMEZONE_INVALID');
      expect(await state(f)).toEqual(before);
    });

    it('answers 400 SCHEDULED_AT_INVALID for garbage dates, and VALIDATION_FAILED for a number or a time too far ahead', async () => {
      const f = await setup();
      const before = await state(f);
      const garbage = ['tomorrow', 'now', '', '2027-02-30T10:00:00Z', '2027-13-01T10:00:00Z', '2027-03-28T25:00:00Z', '2027-03-28T10:61:00Z', '2027-03-28', '10:00', '2027-03-28T10:00:00+25:00', '2027-03-28 10:00:00Z', '1700000000', '2027-03-28T10:00:00Z[Europe/Berlin]', '+002027-03-28T10:00:00Z'];
      for (const send of schedulingRoutes(f)) {
        for (const at of garbage) {
          const r = await send({ scheduled_at: at });
          expectError(r, 400, 'SCHEDULED_AT_INVALID');
          expect(detailOf(r, 'body.scheduled_at'), at).toBeDefined();
        }
        expectError(await send({ scheduled_at: 1700000000 }), 400, 'VALIDATION_FAILED');
        expectError(await send({ scheduled_at: 'x'.repeat(65) }), 400, 'VALIDATION_FAILED');
        const far = await send({ scheduled_at: '9999-12-31T23:59:59Z' });
        expectError(far, 400, 'VALIDATION_FAILED');
        expect(far.body.error.details).toEqual([{ field: 'body.scheduled_at', message: 'too far ahead' }]);
      }
      expect(await state(f)).toEqual(before);
    });

    it('refuses clearing the time of a scheduled post with PATCH scheduled_at: null', async () => {
      const f = await setup();
      const scheduled = await f.ws.post('/v1/posts', { text: 'x', account_ids: [f.fx.accountId], scheduled_at: inSeconds(3600) });
      const r = await f.ws.patch(`/v1/posts/${scheduled.body.id}`, { scheduled_at: null });
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error.details).toEqual([{ field: 'body.scheduled_at', message: 'cannot be null while scheduled' }]);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('query strings', () => {
  const LISTS: [string, boolean][] = [
    ['/v1/posts', false],
    ['/v1/accounts', false],
    ['/v1/workspaces', true],
  ];

  it.each(LISTS)('answers %s with 400 VALIDATION_FAILED for a limit out of range or not an integer', async (path, operator) => {
    const f = await setup();
    const c = operator ? t.operator : f.ws;
    for (const limit of ['0', '1000', '101', '-1', '1.5', 'abc', '', '1e400']) {
      const r = await c.get(`${path}?limit=${limit}`);
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error.details.every((d: any) => d.field === 'querystring.limit')).toBe(true);
    }
    for (const limit of ['1', '100']) expect((await c.get(`${path}?limit=${limit}`)).status).toBe(200);
  });

  it.each(LISTS)('answers %s with 400 VALIDATION_FAILED naming an unknown query parameter', async (path, operator) => {
    const f = await setup();
    const c = operator ? t.operator : f.ws;
    for (const name of ['sort', 'workspace_id', 'LIMIT']) {
      const r = await c.get(`${path}?${name}=1`);
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error.details).toEqual([{ field: `querystring.${name}`, message: `unknown field "${name}"` }]);
    }
  });

  it.each(LISTS)('answers %s with 400 CURSOR_INVALID for a cursor it did not make', async (path, operator) => {
    const f = await setup();
    const c = operator ? t.operator : f.ws;
    const of = (s: string) => Buffer.from(s).toString('base64url');
    const foreignKind = path === '/v1/posts' ? newId('account') : newId('post');
    for (const cursor of ['garbage', of('v1:garbage'), of(`v2:${newId('post')}`), of(`v1:${foreignKind}`), '%zz', '', of('v1:'), 'x'.repeat(200)]) {
      expectError(await c.get(`${path}?cursor=${cursor}`), 400, 'CURSOR_INVALID');
    }
    expectError(await c.get(`${path}?cursor=${'x'.repeat(201)}`), 400, 'VALIDATION_FAILED');
  });

  it('answers GET /v1/posts with 400 VALIDATION_FAILED for a bad status, account_id, from or to', async () => {
    const f = await setup();
    const cases: [string, string][] = [
      ['status=bogus', 'querystring.status'],
      ['status=', 'querystring.status'],
      ['account_id=nope', 'querystring.account_id'],
      [`account_id=${f.fx.postId}`, 'querystring.account_id'],
      ['from=yesterday', 'querystring.from'],
      ['to=2027-02-30T00:00:00Z', 'querystring.to'],
      ['from=2027-01-01T00:00:00', 'querystring.from'], // no offset
      ['from=2027-01-01T00:00:00+01:00', 'querystring.from'], // "+" unencoded is a space
    ];
    for (const [query, field] of cases) {
      const r = await f.ws.get(`/v1/posts?${query}`);
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error.details.map((d: any) => d.field), query).toContain(field);
    }
    expect((await f.ws.get(`/v1/posts?from=${encodeURIComponent('2027-01-01T00:00:00+01:00')}`)).status).toBe(200);
  });

  it('answers GET /v1/accounts with 400 VALIDATION_FAILED for a platform or status it does not know', async () => {
    const f = await setup();
    for (const query of ['platform=myspace', 'platform=Bluesky', 'status=deleted', 'status=connected&status=disconnected']) {
      expectError(await f.ws.get(`/v1/accounts?${query}`), 400, 'VALIDATION_FAILED');
    }
  });
});

describe('account and key bodies', () => {
  it('answers POST /v1/accounts with 400 for a bad platform, username or sandbox flag, and 422 for a platform without a sandbox', async () => {
    const f = await setup();
    const before = await state(f);
    for (const body of [
      { platform: 'myspace', sandbox: true, username: 'x' },
      { platform: 'Bluesky', sandbox: true, username: 'x' },
      { platform: 'bluesky', sandbox: false, username: 'x' },
      { platform: 'bluesky', sandbox: true, username: 'has space' },
      { platform: 'bluesky', sandbox: true, username: '-leading-dash' },
      { platform: 'bluesky', sandbox: true, username: 'x'.repeat(31) },
      { platform: 'bluesky', sandbox: true, username: '' },
      { platform: 'bluesky', sandbox: true, username: 'ünïcode' },
    ]) {
      expectError(await f.ws.post('/v1/accounts', body), 400, 'VALIDATION_FAILED');
    }
    const withoutSandbox = PLATFORMS.find((p) => !getConnector(p)?.sandbox);
    if (withoutSandbox) expectError(await f.ws.post('/v1/accounts', { platform: withoutSandbox, sandbox: true, username: 'x' }), 422, 'PLATFORM_NOT_SUPPORTED');
    expect(await state(f)).toEqual(before);
  });

  it('answers the operator 400 for a bad workspace name or key scopes', async () => {
    const f = await setup();
    const before = await state(f);
    for (const body of [{ name: '' }, { name: 'x'.repeat(201) }, { name: 7 }]) {
      expectError(await t.operator.post('/v1/workspaces', body), 400, 'VALIDATION_FAILED');
      expectError(await t.operator.post(`/v1/workspaces/${f.fx.workspaceId}/api_keys`, body), 400, 'VALIDATION_FAILED');
    }
    for (const scopes of [[], ['admin'], ['read', 'read'], 'read', [null]]) {
      const r = await t.operator.post(`/v1/workspaces/${f.fx.workspaceId}/api_keys`, { name: 'k', scopes });
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.error.details.some((d: any) => String(d.field).startsWith('body.scopes'))).toBe(true);
    }
    expect(await state(f)).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('paths', () => {
  it.each([
    ['GET', '/'],
    ['GET', '/v1'],
    ['GET', '/v1/nope'],
    ['GET', '/v2/posts'],
    ['GET', '/V1/posts'],
    ['PUT', '/v1/posts'],
    ['DELETE', '/v1/posts'],
    ['PUT', '/v1/posts/{post}'],
    ['POST', '/v1/posts/{post}'],
    ['POST', '/v1/posts/{post}/frobnicate'],
    ['GET', '/v1/posts/{post}/publish'],
    ['PATCH', '/v1/accounts/{account}'],
    ['GET', '/v1/publications'],
    ['GET', '//v1/posts'],
    ['OPTIONS', '/v1/posts'],
  ])('answers %s %s with 404 NOT_FOUND in the error envelope, with or without a key', async (method, template) => {
    const f = await setup();
    const path = template.replace('{post}', f.fx.postId).replace('{account}', f.fx.accountId);
    for (const key of [undefined, f.ws.key, ADMIN_KEY]) {
      const r = await raw(t.url, method, path, { key });
      expectError(r, 404, 'NOT_FOUND');
      expect(r.body.error.message).toMatch(/^no route /);
    }
  });

  const ID_ROUTES: Record<string, { method: string; path: (id: string, f: Fx) => string; body?: (f: Fx) => unknown; operator?: boolean }> = {
    'GET /v1/accounts/{id}': { method: 'GET', path: (id) => `/v1/accounts/${id}` },
    'DELETE /v1/accounts/{id}': { method: 'DELETE', path: (id) => `/v1/accounts/${id}` },
    'GET /v1/posts/{id}': { method: 'GET', path: (id) => `/v1/posts/${id}` },
    'GET /v1/media/{id}': { method: 'GET', path: (id) => `/v1/media/${id}` },
    'DELETE /v1/media/{id}': { method: 'DELETE', path: (id) => `/v1/media/${id}` },
    'POST /v1/media/{id}/complete': { method: 'POST', path: (id) => `/v1/media/${id}/complete` },
    'PATCH /v1/posts/{id}': { method: 'PATCH', path: (id) => `/v1/posts/${id}`, body: () => ({ text: 'x' }) },
    'DELETE /v1/posts/{id}': { method: 'DELETE', path: (id) => `/v1/posts/${id}` },
    'POST /v1/posts/{id}/publish': { method: 'POST', path: (id) => `/v1/posts/${id}/publish` },
    'POST /v1/posts/{id}/schedule': { method: 'POST', path: (id) => `/v1/posts/${id}/schedule`, body: () => ({ scheduled_at: inSeconds(3600) }) },
    'GET /v1/workspaces/{id}': { method: 'GET', path: (id) => `/v1/workspaces/${id}`, operator: true },
    'POST /v1/workspaces/{id}/api_keys': { method: 'POST', path: (id) => `/v1/workspaces/${id}/api_keys`, body: () => ({ name: 'k' }), operator: true },
    'GET /v1/workspaces/{id}/api_keys': { method: 'GET', path: (id) => `/v1/workspaces/${id}/api_keys`, operator: true },
    'DELETE /v1/workspaces/{id}/api_keys/{key_id} (workspace id)': { method: 'DELETE', path: (id, f) => `/v1/workspaces/${id}/api_keys/${f.keyId}`, operator: true },
    'DELETE /v1/workspaces/{id}/api_keys/{key_id} (key id)': { method: 'DELETE', path: (id, f) => `/v1/workspaces/${f.workspaceId}/api_keys/${id}`, operator: true },
  };

  it.each(Object.entries(ID_ROUTES))('answers %s with 404 NOT_FOUND for ids that are malformed, of another kind, or unknown', async (_name, route) => {
    const f = await setup();
    const before = await state(f);
    const at = route.path('ID', f.fx);
    const real = at.includes('/accounts/') ? f.fx.accountId : at.includes('/posts/') ? f.fx.postId : at.includes('/media/') ? f.fx.mediaId : f.fx.workspaceId;
    const ids = [
      'nope',
      'post_123',
      '0',
      real.toUpperCase(),
      `${real}x`,
      real.slice(0, -1),
      `${real}%20`,
      real.includes('acct_') ? f.fx.postId : f.fx.accountId, // an id of another kind
      newId('post'),
      newId('account'),
      newId('workspace'),
      newId('apiKey'),
      '%00',
      '%zz',
      '%E0%A4%A',
      'a'.repeat(300),
      '..%2F..%2Fetc%2Fpasswd',
      "1'%20OR%20'1'='1",
      '%F0%9F%98%80',
    ];
    const key = route.operator ? ADMIN_KEY : f.ws.key;
    for (const id of ids) {
      const r = await raw(t.url, route.method, route.path(id, f.fx), {
        key,
        ...(route.body ? { body: JSON.stringify(route.body(f.fx)), headers: { 'content-type': 'application/json' } } : {}),
      });
      expect(r.status, `${route.method} ${route.path(id, f.fx)}`).toBe(404);
      expectError(r, 404, 'NOT_FOUND');
    }
    expect(await state(f)).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('random input', () => {
  const wild = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom('', ' ', '\u0000', '\ud800', 'x'.repeat(400), '2027-02-30T10:00:00Z', '2020-01-01T00:00:00Z', 'Europe/Berlin', 'Mars/Base', '__proto__', 'constructor', -0, 1e308, Number.MAX_SAFE_INTEGER + 2),
  );

  it.each(bodyRoutes)('answers random bodies to %s with a success or a documented 4xx, never a 5xx', async (_name, route) => {
    const f = await setup();
    const valid = route.valid(f.fx);
    const fields = Object.fromEntries(Object.keys(valid).map((k) => [k, fc.oneof({ weight: 2, arbitrary: fc.constant(valid[k]) }, { weight: 3, arbitrary: wild })]));
    const body = fc.oneof(
      { weight: 4, arbitrary: fc.record(fields, { requiredKeys: [] }) },
      { weight: 1, arbitrary: fc.tuple(fc.record(fields, { requiredKeys: [] }), fc.dictionary(fc.string({ maxLength: 8 }), wild, { maxKeys: 2 })).map(([a, b]) => ({ ...b, ...a })) },
      { weight: 1, arbitrary: wild },
    );
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        // Posts stay drafts so the worker does not publish what the fuzzer made.
        const sent = route.method === 'POST' && route.path(f.fx) === '/v1/posts' && value && typeof value === 'object' && !Array.isArray(value) ? { ...value, draft: true } : value;
        const r = await raw(t.url, route.method, route.path(f.fx), { key: keyFor(route, f), body: JSON.stringify(sent) ?? 'null', headers: { 'content-type': 'application/json' } });
        if (r.status >= 300) expectEnvelope(r);
        else expect(r.headers.get('x-request-id')).toMatch(/^req_/);
      }),
      { numRuns: 60 },
    );
  });

  it('answers random query strings on the lists with a success or a documented 4xx', async () => {
    const f = await setup();
    const param = fc.tuple(fc.constantFrom('limit', 'cursor', 'status', 'account_id', 'from', 'to', 'platform', 'x'), fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('0', '5', '100', '%zz', '%00', 'scheduled', 'draft', 'bluesky', f.fx.accountId)));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/v1/posts', '/v1/accounts'), fc.array(param, { maxLength: 4 }), async (path, params) => {
        const query = params.map(([k, v]) => `${k}=${/^%/.test(v) ? v : encodeURIComponent(v)}`).join('&');
        const r = await f.ws.get(`${path}?${query}`);
        if (r.status >= 300) expectEnvelope(r);
        else expect(Array.isArray(r.body.data)).toBe(true);
      }),
      { numRuns: 80 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------


describe('documentation', () => {
  it('keeps docs/errors.md equal to renderErrorsDoc()', async () => {
    const onDisk = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderErrorsDoc());
    for (const code of Object.keys(API_ERRORS)) expect(onDisk).toContain(`| \`${code}\` | ${API_ERRORS[code as ApiErrorCode].status} |`);
  });

  it('serves an OpenAPI 3.1.0 document listing every route, its errors as the Error schema, and bearer auth where a key is needed', async () => {
    const r = await client(t.url).get('/v1/openapi.json');
    expect(r.status).toBe(200);
    const doc = r.body;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Error.properties.error.properties.code.anyOf.map((c: any) => c.const ?? c.enum?.[0]).sort()).toEqual(Object.keys(API_ERRORS).sort());

    const ops = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, byMethod]) => Object.entries(byMethod).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, op })));
    const names = ops.map((o) => o.name);
    // Exactly the routes the source registers, less those deliberately hidden (Prometheus text, the document
    // itself, and the signed media URLs platforms fetch).
    const hidden = ['GET /metrics', 'GET /v1/openapi.json', 'GET /media/{id}/{variant}', 'GET /review/{token}', 'POST /review/{token}'];
    const registered = await registeredRoutes();
    expect(registered.length).toBeGreaterThan(15);
    expect([...names].sort()).toEqual(registered.filter((r) => !hidden.includes(r)));
    for (const name of [...Object.keys(BODY_ROUTES), ...Object.keys(BODYLESS_ROUTES), 'GET /v1/posts', 'GET /v1/posts/{id}', 'GET /v1/accounts', 'GET /v1/accounts/{id}', 'GET /v1/workspaces', 'GET /v1/workspaces/{id}', 'GET /v1/workspaces/{id}/api_keys', 'GET /health/live', 'GET /health/ready']) {
      expect(names).toContain(name);
    }
    const problems: string[] = [];
    for (const { name, path, op } of ops) {
      // Health needs nothing; the local store's upload target is authorized by the signature in its URL.
      // The OAuth callback is authorized by its single-use state.
      const isPublic = path.startsWith('/health') || name === 'PUT /v1/media/{id}/content' || name === 'GET /v1/connections/callback';
      if (isPublic) {
        if (op.security) problems.push(`${name}: public route marked as needing a key`);
        continue;
      }
      if (JSON.stringify(op.security) !== JSON.stringify([{ apiKey: [] }])) problems.push(`${name}: no bearer security`);
      const errors = Object.entries(op.responses as Record<string, any>).filter(([status]) => Number(status) >= 400);
      for (const [status, response] of errors) {
        if (response.content?.['application/json']?.schema?.$ref !== '#/components/schemas/Error') problems.push(`${name} ${status}: not the Error schema`);
      }
      const documented = errors.map(([s]) => Number(s));
      const expected = [401, 403, 429, ...(path.includes('{') ? [404] : []), ...(op.requestBody ? [400, 413, 415] : [])];
      for (const status of expected) if (!documented.includes(status)) problems.push(`${name}: ${status} not documented`);
      for (const status of documented) if (!Object.values(API_ERRORS).some((e) => e.status === status)) problems.push(`${name}: ${status} has no error code`);
    }
    expect(problems).toEqual([]);
  });
});

describe('error codes', () => {
  it('saw only codes from the closed list in this file, and most of them', () => {
    for (const code of seenCodes) expect(Object.keys(API_ERRORS)).toContain(code);
    expect(seenCodes.size).toBeGreaterThanOrEqual(10);
  });
});
