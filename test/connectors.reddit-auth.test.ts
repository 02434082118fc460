// Connecting Reddit accounts (OAuth 2.0 against the simulator's authorization server with Reddit's rules:
// duration, HTTP Basic, no PKCE, 1-hour tokens, non-rotating refresh) and the simulator's own enforcement
// of Reddit's protocol, called directly: User-Agent, token and scope per route, the form-encoded submit
// with api_type=json, the S3 form's policy, and listings escaped unless raw_json=1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_APP } from '../src/connectors/auth-types.js';
import { authorizeUrl, exchangeCode, refreshTokens } from '../src/connectors/oauth/client.js';
import { REDDIT_SCOPES, redditAuth, type RedditCredentials } from '../src/connectors/reddit/auth.js';
import { s3Upload, userAgent } from '../src/connectors/reddit/client.js';
import { redditConnector } from '../src/connectors/reddit/connector.js';
import { systemClock } from '../src/lib/clock.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';

const silent = { info() {}, warn() {}, error() {} };
const redirectUri = 'https://app.example/callback';
let sandbox: SandboxServer;
let base: string;
beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/reddit`;
});
afterAll(async () => sandbox?.close());

async function consent(url: string, username: string): Promise<URL> {
  const u = new URL(url);
  const form = new URLSearchParams(u.searchParams);
  form.set('username', username);
  form.set('decision', 'allow');
  const r = await fetch(`${u.origin}${u.pathname}`, { method: 'POST', body: form, redirect: 'manual' });
  expect(r.status).toBe(302);
  return new URL(r.headers.get('location')!);
}

async function connect(username: string, extra: Record<string, string> = { duration: 'permanent' }) {
  const auth = { ...redditAuth, extraAuthorizeParams: extra };
  const back = await consent(authorizeUrl(auth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri, state: 's' }), username);
  const tokens = await exchangeCode(auth, { sandboxBase: base }, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri }, new Date(), AbortSignal.timeout(5_000));
  if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
  return tokens.value;
}

const api = (path: string, token: string | undefined, init: { method?: string; body?: string | URLSearchParams; type?: string; ua?: string | null } = {}) => {
  const headers: Record<string, string> = {};
  if (token) headers['authorization'] = `bearer ${token}`;
  if (init.ua !== null) headers['user-agent'] = init.ua ?? userAgent('tester');
  if (init.type) headers['content-type'] = init.type;
  return fetch(`${base}${path}`, { method: init.method ?? 'GET', headers, body: init.body });
};

describe('connecting a Reddit account', () => {
  it('accepts the authorize URL Crier builds (duration=permanent, no PKCE), exchanges the code with Basic auth, and finds one user', async () => {
    const url = new URL(authorizeUrl(redditAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri, state: 'abc' }));
    expect(url.pathname).toBe('/reddit/api/v1/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({ response_type: 'code', client_id: SANDBOX_APP.clientId, redirect_uri: redirectUri, scope: 'identity submit read flair history', state: 'abc', duration: 'permanent' });
    expect((await fetch(url)).status).toBe(200);
    const back = await consent(url.toString(), 'alice_r');
    expect(back.searchParams.get('state')).toBe('abc');
    const tokens = await exchangeCode(redditAuth, { sandboxBase: base }, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri }, new Date(), AbortSignal.timeout(5_000));
    if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
    expect(tokens.value.raw).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: REDDIT_SCOPES.join(' ') });
    expect(tokens.value.raw['refresh_token_expires_in']).toBeUndefined();
    expect(tokens.value.refreshToken).toBeTruthy();
    const found = await redditAuth.accounts({ baseUrl: base, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(5_000) }, tokens.value);
    if (!found.ok) throw new Error(JSON.stringify(found.error));
    expect(found.value).toEqual([expect.objectContaining({ username: 'alice_r', kind: 'user', externalId: expect.stringMatching(/^[0-9a-z]+$/) })]);
    expect(found.value[0]!.credentials as RedditCredentials).toMatchObject({ userId: found.value[0]!.externalId, username: 'alice_r', accessToken: tokens.value.accessToken });
  });

  it('requires duration; a temporary grant brings no refresh token', async () => {
    const noDuration = new URL(authorizeUrl({ ...redditAuth, extraAuthorizeParams: {} }, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri, state: 's' }));
    expect((await fetch(noDuration)).status).toBe(400);
    const temporary = await connect('temp_user', { duration: 'temporary' });
    expect(temporary.refreshToken).toBeUndefined();
  });

  it('refreshes with the refresh grant: a new access token, the same refresh token; a client in the body is refused', async () => {
    const tokens = await connect('refresher');
    const creds: RedditCredentials = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, userId: 'x', username: 'refresher' };
    const r = await refreshTokens(redditAuth, { sandboxBase: base }, SANDBOX_APP, creds, new Date(), AbortSignal.timeout(5_000));
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.value.accessToken).not.toBe(tokens.accessToken);
    expect(r.value.refreshToken).toBe(tokens.refreshToken);
    const body = await refreshTokens({ ...redditAuth, clientAuth: 'body' }, { sandboxBase: base }, SANDBOX_APP, creds, new Date(), AbortSignal.timeout(5_000));
    expect(!body.ok && body.error.platformCode).toBe('invalid_client');
  });
});

describe('what the Reddit simulator enforces', () => {
  it('wants a descriptive User-Agent, a valid bearer token and the route\'s scope', async () => {
    const t = await connect('enforcer');
    expect((await api('/api/v1/me', t.accessToken)).status).toBe(200);
    expect((await api('/api/v1/me', t.accessToken, { ua: null })).status).toBe(429);
    expect((await api('/api/v1/me', t.accessToken, { ua: 'python-requests/2.31' })).status).toBe(429);
    const bad = await api('/api/v1/me', 'not-a-token');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('invalid_token');
    expect(await bad.json()).toEqual({ message: 'Unauthorized', error: 401 });
    const user = sandbox.reddit.oauth.users.get(((await (await api('/api/v1/me', t.accessToken)).json()) as any).id)!;
    const readOnly = (await sandbox.reddit.oauth.issue(user, ['read']))['access_token'] as string;
    const refused = await api('/api/submit', readOnly, { method: 'POST', type: 'application/x-www-form-urlencoded', body: 'api_type=json&sr=sandbox&kind=self&title=t' });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toContain('insufficient_scope');
    const ok = await api('/r/sandbox/about', t.accessToken);
    expect(ok.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
    expect(Number(ok.headers.get('x-ratelimit-reset'))).toBeLessThanOrEqual(600);
  });

  it('answers submit in the legacy form without api_type=json or with a JSON body, and lists json.errors otherwise', async () => {
    const t = await connect('submitter');
    const legacy = (await (await api('/api/submit', t.accessToken, { method: 'POST', type: 'application/x-www-form-urlencoded', body: 'sr=sandbox&kind=self&title=t' })).json()) as any;
    expect(legacy).toMatchObject({ success: false, jquery: expect.any(Array) });
    const json = (await (await api('/api/submit', t.accessToken, { method: 'POST', type: 'application/json', body: JSON.stringify({ api_type: 'json', sr: 'sandbox', kind: 'self', title: 't' }) })).json()) as any;
    expect(json).toMatchObject({ success: false });
    const res = await api('/api/submit', t.accessToken, { method: 'POST', type: 'application/x-www-form-urlencoded', body: 'api_type=json&sr=nowhere_sub&kind=self&title=t' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ json: { errors: [['SUBREDDIT_NOEXIST', "that subreddit doesn't exist", 'sr']] } });
    const link = (await (await api('/api/submit', t.accessToken, { method: 'POST', type: 'application/x-www-form-urlencoded', body: 'api_type=json&sr=sandbox&kind=link&title=t&url=notaurl' })).json()) as any;
    expect(link.json.errors).toEqual([['BAD_URL', 'you should check that url', 'url']]);
    const image = (await (await api('/api/submit', t.accessToken, { method: 'POST', type: 'application/x-www-form-urlencoded', body: 'api_type=json&sr=sandbox&kind=image&title=t&url=https://example.com/a.jpg' })).json()) as any;
    expect(image.json.errors).toEqual([['BAD_URL', 'you should check that url', 'url']]);
  });

  it("checks the S3 form: the policy's fields unchanged, the file last, the size range, and the owner of the file", async () => {
    const t = await connect('uploader');
    const lease = async () => ((await (await api('/api/media/asset.json', t.accessToken, { method: 'POST', type: 'application/x-www-form-urlencoded', body: 'filepath=a.png&mimetype=image/png' })).json()) as any) as { args: { action: string; fields: { name: string; value: string }[] } };
    expect((await api('/api/media/asset.json', t.accessToken, { method: 'POST', type: 'application/x-www-form-urlencoded', body: 'filepath=a.bmp&mimetype=image/bmp' })).status).toBe(400);
    const file = { data: Buffer.from('\x89PNG fake'), filename: 'a.png', mimeType: 'image/png' };
    const signal = () => AbortSignal.timeout(5_000);
    const l1 = await lease();
    const action = new URL(l1.args.action, base).toString();
    const tampered = l1.args.fields.map((f) => (f.name === 'content-type' ? { ...f, value: 'image/gif' } : f));
    const r1 = await s3Upload(action, tampered, file, signal());
    expect(r1.ok && [r1.value.status, /AccessDenied/.test(r1.value.text)]).toEqual([403, true]);
    sandbox.reddit.config.imageMaxBytes = 4;
    const l2 = await lease();
    const r2 = await s3Upload(action, l2.args.fields, file, signal());
    expect(r2.ok && /EntityTooLarge/.test(r2.value.text)).toBe(true);
    sandbox.reddit.config.imageMaxBytes = 20_000_000;
    const l3 = await lease();
    const up = await s3Upload(action, l3.args.fields, file, signal());
    expect(up.ok && up.value.status).toBe(201);
    const location = /<Location>([^<]+)<\/Location>/.exec(up.ok ? up.value.text : '')![1]!;
    // Another account cannot post the file.
    const other = await connect('someone_else');
    const stolen = (await (await api('/api/submit', other.accessToken, { method: 'POST', type: 'application/x-www-form-urlencoded', body: new URLSearchParams({ api_type: 'json', sr: 'sandbox', kind: 'image', title: 't', url: location }).toString() })).json()) as any;
    expect(stolen.json.errors[0][0]).toBe('BAD_URL');
    const mine = (await (await api('/api/submit', t.accessToken, { method: 'POST', type: 'application/x-www-form-urlencoded', body: new URLSearchParams({ api_type: 'json', sr: 'sandbox', kind: 'image', title: 'a & b', url: location }).toString() })).json()) as any;
    expect(mine.json).toMatchObject({ errors: [], data: { websocket_url: expect.any(String) } });
    expect(mine.json.data.id).toBeUndefined();
    const escaped = (await (await api('/user/uploader/submitted?sort=new', t.accessToken)).json()) as any;
    expect(escaped.data.children[0].data.title).toBe('a &amp; b');
    const raw = (await (await api('/user/uploader/submitted?sort=new&raw_json=1', t.accessToken)).json()) as any;
    expect(raw.data.children[0].data).toMatchObject({ title: 'a & b', is_self: false, post_hint: 'image' });
  });

  it('makes a sandbox account through the same flow', async () => {
    const a = await redditConnector.sandbox!.createAccount(base, 'Sandbox User!');
    expect(a).toMatchObject({ username: 'Sandbox_User_', credentials: expect.objectContaining({ refreshToken: expect.any(String), username: 'Sandbox_User_' }) });
  });
});
