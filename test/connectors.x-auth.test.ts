// Connecting X accounts (OAuth 2.0 with PKCE against the simulator's authorization server, with X's rules)
// and the simulator's own enforcement of X's protocol, called directly: scopes per route, request schema,
// media ownership and processing, the upload sequence, and the read endpoints' parameters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_APP } from '../src/connectors/auth-types.js';
import { authorizeUrl, exchangeCode, newPkce, refreshTokens, revokeToken } from '../src/connectors/oauth/client.js';
import { multipart } from '../src/connectors/x/client.js';
import { X_SCOPES, xAuth, type XCredentials } from '../src/connectors/x/auth.js';
import { xConnector } from '../src/connectors/x/connector.js';
import { systemClock } from '../src/lib/clock.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';

const silent = { info() {}, warn() {}, error() {} };
const redirectUri = 'https://app.example/callback';
let sandbox: SandboxServer;
let base: string;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/x`;
});
afterAll(async () => sandbox?.close());

const authCtx = () => ({ baseUrl: base, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(5_000) });

/** The user's side of the consent page: posts the form the page shows, answers where X redirects to. */
async function consent(url: string, username: string): Promise<URL> {
  const u = new URL(url);
  const form = new URLSearchParams(u.searchParams);
  form.set('username', username);
  form.set('decision', 'allow');
  const r = await fetch(`${u.origin}${u.pathname}`, { method: 'POST', body: form, redirect: 'manual' });
  expect(r.status).toBe(302);
  return new URL(r.headers.get('location')!);
}

async function connect(username: string, scopes = X_SCOPES) {
  const pkce = newPkce();
  const auth = { ...xAuth, scopes };
  const url = authorizeUrl(auth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri, state: 'st4te', codeChallenge: pkce.challenge });
  const back = await consent(url, username);
  const tokens = await exchangeCode(auth, { sandboxBase: base }, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri, codeVerifier: pkce.verifier }, new Date(), AbortSignal.timeout(5_000));
  if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
  return tokens.value;
}

async function api(method: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { ...headers };
  if (token) h['authorization'] = `Bearer ${token}`;
  let payload: string | Uint8Array | undefined;
  if (Buffer.isBuffer(body)) payload = new Uint8Array(body);
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  const r = await fetch(`${base}${path}`, { method, headers: h, body: payload });
  return { status: r.status, headers: r.headers, body: (await r.json().catch(() => undefined)) as any };
}

describe('connecting an X account', () => {
  it('accepts the authorize URL Crier builds, exchanges the code with PKCE and Basic auth, and finds one user account', async () => {
    const pkce = newPkce();
    const url = new URL(authorizeUrl(xAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri, state: 'abc', codeChallenge: pkce.challenge }));
    expect(url.pathname).toBe('/x/i/oauth2/authorize');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({ response_type: 'code', client_id: SANDBOX_APP.clientId, scope: 'tweet.read tweet.write users.read offline.access media.write', code_challenge_method: 'S256', state: 'abc' });
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('media.write');
    const back = await consent(url.toString(), 'alice_x');
    expect(back.searchParams.get('state')).toBe('abc');
    const tokens = await exchangeCode(xAuth, { sandboxBase: base }, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri, codeVerifier: pkce.verifier }, new Date(), AbortSignal.timeout(5_000));
    if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
    expect(tokens.value.raw).toMatchObject({ token_type: 'bearer', expires_in: 7200, scope: X_SCOPES.join(' ') });
    expect(tokens.value.raw['refresh_token_expires_in']).toBeUndefined();
    expect(tokens.value.refreshToken).toBeTruthy();
    const found = await xAuth.accounts(authCtx(), tokens.value);
    if (!found.ok) throw new Error(JSON.stringify(found.error));
    expect(found.value).toEqual([expect.objectContaining({ username: 'alice_x', kind: 'user', externalId: expect.stringMatching(/^[1-9]\d{0,18}$/) })]);
    const creds = found.value[0]!.credentials as XCredentials;
    expect(creds).toMatchObject({ userId: found.value[0]!.externalId, username: 'alice_x', accessToken: tokens.value.accessToken });
    expect(Date.parse(creds.expiresAt!) - Date.now()).toBeGreaterThan(7_100_000);
  });

  it('refuses an authorize request without PKCE, and gives no refresh token without offline.access', async () => {
    const url = new URL(authorizeUrl({ ...xAuth, pkce: false }, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri, state: 's' }));
    const r = await fetch(url, { redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(new URL(r.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    const tokens = await connect('bob_x', ['tweet.read', 'tweet.write', 'users.read', 'media.write']);
    expect(tokens.refreshToken).toBeUndefined();
  });

  it('rotates refresh tokens and answers a spent one the way X does, which Crier reads as revoked', async () => {
    const tokens = await connect('carol_x');
    const found = await xAuth.accounts(authCtx(), tokens);
    const creds = (found.ok && found.value[0]!.credentials) as XCredentials;
    const next = await xAuth.refresh!(authCtx(), creds);
    if (!next.ok) throw new Error(JSON.stringify(next.error));
    expect(next.value.refreshToken).not.toBe(creds.refreshToken);
    expect(next.value).toMatchObject({ userId: creds.userId, username: 'carol_x' });
    // The raw answer X gives to a reused refresh token.
    const raw = await fetch(`${base}/2/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${SANDBOX_APP.clientId}:${SANDBOX_APP.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.refreshToken! }),
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({ error: 'invalid_request', error_description: 'Value passed for the token was invalid.' });
    const again = await xAuth.refresh!(authCtx(), creds);
    expect(!again.ok && again.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED' });
    // The generic client alone would call it permanent: X's wording is why X has its own refresh.
    const generic = await refreshTokens(xAuth, { sandboxBase: base }, SANDBOX_APP, creds, new Date(), AbortSignal.timeout(5_000));
    expect(!generic.ok && generic.error.category).toBe('permanent');
  });

  it('treats a wrong client secret as the app\'s problem, and a revoked token as unauthorized', async () => {
    const tokens = await connect('dave_x');
    const wrong = await refreshTokens(xAuth, { sandboxBase: base }, { ...SANDBOX_APP, clientSecret: 'nope' }, { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken }, new Date(), AbortSignal.timeout(5_000));
    expect(!wrong.ok && wrong.error).toMatchObject({ category: 'permanent', platformCode: 'invalid_client' });
    expect((await api('GET', '/2/users/me', tokens.accessToken)).status).toBe(200);
    const revoked = await revokeToken(xAuth, { sandboxBase: base }, SANDBOX_APP, tokens.accessToken, 'access_token', AbortSignal.timeout(5_000));
    expect(revoked.ok).toBe(true);
    const me = await api('GET', '/2/users/me', tokens.accessToken);
    expect(me).toMatchObject({ status: 401, body: { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' } });
  });
});

describe('the simulator enforces X\'s protocol', () => {
  let token: string;
  let userId: string;
  beforeAll(async () => {
    const a = await xConnector.sandbox!.createAccount(base, 'enforcer');
    token = a.credentials.accessToken;
    userId = a.externalId;
  });

  it('checks the token and the scopes of each route, with rate-limit headers', async () => {
    expect((await api('POST', '/2/tweets', undefined, { text: 'x' })).status).toBe(401);
    const user = sandbox.x.oauth.users.get(userId)!;
    const readOnly = (await sandbox.x.oauth.issue(user, ['tweet.read', 'users.read']))['access_token'] as string;
    expect(await api('POST', '/2/tweets', readOnly, { text: 'x' })).toMatchObject({ status: 403, body: { detail: 'Forbidden' } });
    const me = await api('GET', '/2/users/me', readOnly);
    expect(me.status).toBe(200);
    expect(me.headers.get('x-rate-limit-limit')).toBe('900');
    expect(Number(me.headers.get('x-rate-limit-reset'))).toBeGreaterThan(Date.now() / 1000);
  });

  it('refuses unknown fields, bad polls, a poll with media, and empty posts with invalid-request problems', async () => {
    const bad = await api('POST', '/2/tweets', token, { text: 'x', status: 'legacy' });
    expect(bad).toMatchObject({ status: 400, body: { title: 'Invalid Request', type: 'https://api.x.com/2/problems/invalid-request', errors: [{ message: expect.stringMatching(/^\$\.status: is not defined/) }] } });
    expect((await api('POST', '/2/tweets', token, { text: 'q', poll: { options: ['a', 'b', 'c', 'd', 'e'], duration_minutes: 5 } })).status).toBe(400);
    expect((await api('POST', '/2/tweets', token, { text: 'q', poll: { options: ['a', 'b'], duration_minutes: 4 } })).status).toBe(400);
    expect((await api('POST', '/2/tweets', token, { text: 'q', poll: { options: ['a', 'b'], duration_minutes: 5 }, media: { media_ids: ['1'] } })).status).toBe(400);
    expect((await api('POST', '/2/tweets', token, { text: '  ' })).status).toBe(400);
    expect((await api('POST', '/2/tweets', token, 'text=x', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(400);
  });

  async function upload(tok: string, bytes: Buffer, type: string, category: string, segment = bytes.length) {
    const init = await api('POST', '/2/media/upload/initialize', tok, { media_type: type, total_bytes: bytes.length, media_category: category });
    const id = init.body.data.id as string;
    for (let i = 0, at = 0; at < bytes.length; i++, at += segment) {
      const form = multipart([{ name: 'segment_index', value: String(i) }, { name: 'media', filename: 'b', contentType: 'application/octet-stream', data: bytes.subarray(at, at + segment) }]);
      expect((await api('POST', `/2/media/upload/${id}/append`, tok, form.body, { 'content-type': form.contentType })).status).toBe(200);
    }
    return { id, fin: await api('POST', `/2/media/upload/${id}/finalize`, tok) };
  }
  const mp4ish = Buffer.concat([Buffer.from('000000206674797069736f6d', 'hex'), Buffer.alloc(3000, 7)]);

  it('enforces the upload sequence: segment order, the announced total, sizes per category', async () => {
    const init = await api('POST', '/2/media/upload/initialize', token, { media_type: 'video/mp4', total_bytes: mp4ish.length, media_category: 'tweet_video' });
    expect(init.body.data).toMatchObject({ id: expect.stringMatching(/^\d+$/), media_key: `7_${init.body.data.id}`, expires_after_secs: 86400 });
    const id = init.body.data.id;
    const seg = (i: number, data: Buffer) => {
      const form = multipart([{ name: 'segment_index', value: String(i) }, { name: 'media', filename: 'b', contentType: 'application/octet-stream', data }]);
      return api('POST', `/2/media/upload/${id}/append`, token, form.body, { 'content-type': form.contentType });
    };
    expect((await seg(1, mp4ish.subarray(0, 1000))).body.errors[0].message).toMatch(/out of order/);
    expect((await seg(0, mp4ish.subarray(0, 1000))).status).toBe(200);
    const short = await api('POST', `/2/media/upload/${id}/finalize`, token);
    expect(short).toMatchObject({ status: 400, body: { errors: [{ message: 'Segments do not add up to provided total file size.' }] } });
    expect((await seg(1, mp4ish.subarray(1000))).status).toBe(200);
    const fin = await api('POST', `/2/media/upload/${id}/finalize`, token);
    expect(fin.body.data).toMatchObject({ id, size: mp4ish.length, processing_info: { state: 'pending', check_after_secs: 1 } });
    expect((await seg(2, Buffer.alloc(10))).status).toBe(400);
    const big = await api('POST', '/2/media/upload/initialize', token, { media_type: 'image/png', total_bytes: 6 * 1024 * 1024, media_category: 'tweet_image' });
    expect(big.body.errors[0].message).toBe('File size exceeds 5242880 bytes.');
    expect((await api('POST', '/2/media/upload/initialize', token, { media_type: 'video/mp4', total_bytes: 10, media_category: 'tweet_image' })).status).toBe(400);
  });

  it('takes only processed media of the posting user, and one video alone', async () => {
    const other = await xConnector.sandbox!.createAccount(base, 'other_user');
    const theirs = await upload(other.credentials.accessToken, mp4ish, 'video/mp4', 'tweet_video');
    const mine = await upload(token, mp4ish, 'video/mp4', 'tweet_video');
    const unprocessed = await api('POST', '/2/tweets', token, { text: 'too soon', media: { media_ids: [mine.id] } });
    expect(unprocessed).toMatchObject({ status: 400, body: { errors: [{ message: 'Your media IDs are invalid.' }] } });
    sandbox.x.media.get(mine.id)!.processingMs = 0;
    sandbox.x.media.get(theirs.id)!.processingMs = 0;
    const status = await api('GET', `/2/media/upload?command=STATUS&media_id=${mine.id}`, token);
    expect(status.body.data.processing_info).toMatchObject({ state: 'succeeded', progress_percent: 100 });
    expect((await api('GET', `/2/media/upload?command=STATUS&media_id=${theirs.id}`, token)).status).toBe(404);
    expect((await api('POST', '/2/tweets', token, { text: 'not mine', media: { media_ids: [theirs.id] } })).status).toBe(400);
    const mine2 = await upload(token, mp4ish, 'video/mp4', 'tweet_video');
    sandbox.x.media.get(mine2.id)!.processingMs = 0;
    expect((await api('POST', '/2/tweets', token, { text: 'two videos', media: { media_ids: [mine.id, mine2.id] } })).status).toBe(400);
    expect((await api('POST', '/2/tweets', token, { text: 'one video', media: { media_ids: [mine.id] } })).status).toBe(201);
  });

  it('reads a user\'s posts by time window and page, and answers a missing post with errors in a 200', async () => {
    const a = await xConnector.sandbox!.createAccount(base, 'reader_x');
    const t = a.credentials.accessToken;
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await api('POST', '/2/tweets', t, { text: `post number ${i}` })).body.data.id);
    expect((await api('GET', `/2/users/${a.externalId}/tweets?max_results=3`, t)).status).toBe(400);
    const first = await api('GET', `/2/users/${a.externalId}/tweets?max_results=5&tweet.fields=created_at`, t);
    expect(first.body.data.map((p: { id: string }) => p.id)).toEqual(ids.slice(2).reverse());
    expect(first.body.data[0].created_at).toBeTruthy();
    const second = await api('GET', `/2/users/${a.externalId}/tweets?max_results=5&pagination_token=${first.body.meta.next_token}`, t);
    expect(second.body).toMatchObject({ data: [{ id: ids[1] }, { id: ids[0] }], meta: { result_count: 2 } });
    const future = await api('GET', `/2/users/${a.externalId}/tweets?start_time=${new Date(Date.now() + 60_000).toISOString().replace(/\.\d+Z/, 'Z')}`, t);
    expect(future.body).toEqual({ meta: { result_count: 0 } });
    const missing = await api('GET', '/2/tweets/1234567890123456789', t);
    expect(missing).toMatchObject({ status: 200, body: { errors: [{ resource_type: 'tweet', type: 'https://api.x.com/2/problems/resource-not-found' }] } });
  });
});
