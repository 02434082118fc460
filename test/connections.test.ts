// Connecting accounts through the public API: Bluesky's app-password sign-in against the simulator, what a
// reconnect keeps, the OAuth callback's refusals, and secrets at rest: a database dump holds no usable
// token, and key rotation re-encrypts every secret so the old key can go.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { supportedPlatforms } from '../src/connectors/registry.js';
import { PLATFORMS } from '../src/connectors/types.js';
import { openJson, parseKeyRing, generateKeySpec, keyIdOf } from '../src/lib/crypto.js';
import { credentialsAad } from '../src/services/accounts.js';
import { reencryptAll } from '../src/services/reencrypt.js';
import { client, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier();
});
afterAll(async () => t?.stop());

/** A Bluesky account that exists on the simulator only (as a user's real account would), with its app password. */
async function simulatorUser(name: string) {
  const handle = `${name}-${Math.random().toString(36).slice(2, 8)}.sandbox.test`;
  const password = 'abcd-efgh-ijkl-mnop';
  const r = await fetch(`${t.sandbox.url}/bluesky/xrpc/com.atproto.server.createAccount`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle, password, email: `${handle}@example.invalid` }),
  });
  expect(r.status).toBe(200);
  return { handle, password, did: ((await r.json()) as { did: string }).did };
}

async function signIn(ws: Tenant, identifier: string, password: string) {
  return ws.post('/v1/connections', { platform: 'bluesky', sandbox: true, redirect_url: 'https://app.example.com/connected', identifier, password });
}

describe('connecting a Bluesky account with an app password', () => {
  it('signs in, creates the account, and publishes with it', async () => {
    const ws = await t.workspace();
    const user = await simulatorUser('alice');
    const r = await signIn(ws, user.handle, user.password);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ platform: 'bluesky', status: 'completed', authorize_url: null, candidates: [{ external_id: user.did, username: user.handle, kind: 'user' }] });
    const accountId = r.body.account_ids[0] as string;
    expect((await ws.get(`/v1/accounts/${accountId}`)).body).toMatchObject({ status: 'connected', external_id: user.did, kind: 'user', sandbox: true });
    expect((await ws.get(`/v1/connections/${r.body.id}`)).body).toMatchObject({ status: 'completed', account_ids: [accountId] });

    const post = await ws.post('/v1/posts', { text: 'hello from a connected account', account_ids: [accountId] });
    expect(post.status).toBe(201);
    const records = () => [...(t.sandbox.bluesky.repos.get(user.did)?.values() ?? [])];
    await expect.poll(() => records().length, { timeout: 10_000 }).toBe(1);
    expect(records()[0]!.value['text']).toBe('hello from a connected account');
  });

  it('refuses a wrong app password with 422 PLATFORM_LOGIN_FAILED and connects nothing', async () => {
    const ws = await t.workspace();
    const user = await simulatorUser('bob');
    const r = await signIn(ws, user.handle, 'wrong-pass-word-here');
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('PLATFORM_LOGIN_FAILED');
    expect(r.body.error.message).not.toContain('wrong-pass-word-here');
    expect((await ws.get('/v1/accounts')).body.data).toEqual([]);
  });

  it('reconnects the same account in place (same id, connected again) rather than adding a second one', async () => {
    const ws = await t.workspace();
    const user = await simulatorUser('carol');
    const first = (await signIn(ws, user.handle, user.password)).body.account_ids[0] as string;
    await t.sql.query(`UPDATE accounts SET status = 'reconnect_required', status_reason = 'test' WHERE id = $1`, [first]);
    const again = await signIn(ws, user.handle, user.password);
    expect(again.body.account_ids).toEqual([first]);
    expect((await ws.get(`/v1/accounts/${first}`)).body).toMatchObject({ status: 'connected', status_reason: null });
    expect((await ws.get('/v1/accounts')).body.data).toHaveLength(1);
    const events = await t.sql.query(`SELECT data FROM events WHERE workspace_id = $1 AND type = 'account.connected' ORDER BY id`, [ws.workspaceId]);
    expect(events.rows.map((e) => e.data.reconnected)).toEqual([false, true]);
  });

  it('answers 422 PLATFORM_NOT_SUPPORTED for a platform that cannot connect yet', async () => {
    const ws = await t.workspace();
    // Whichever platform has no connector yet: a fixed name would break as soon as that connector lands.
    const missing = PLATFORMS.find((p) => !supportedPlatforms().includes(p));
    if (!missing) return; // every platform connects; nothing left to refuse
    const r = await ws.post('/v1/connections', { platform: missing, redirect_url: 'https://app.example.com/back' });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('PLATFORM_NOT_SUPPORTED');
  });
});

describe('connecting by OAuth', () => {
  it('runs the whole flow against the sandbox: authorize URL, consent, callback, redirect back, account connected and publishing', async () => {
    const ws = await t.workspace();
    const started = await ws.post('/v1/connections', { platform: 'x', sandbox: true, redirect_url: 'https://app.example.com/connected?from=crier' });
    expect(started.status).toBe(201);
    expect(started.body.status).toBe('pending');
    const authorize = new URL(started.body.authorize_url);
    expect(authorize.pathname).toBe('/x/i/oauth2/authorize');
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({ response_type: 'code', client_id: 'crier-sandbox', code_challenge_method: 'S256', redirect_uri: `${t.url}/v1/connections/callback` });
    expect(authorize.searchParams.get('scope')!.split(' ')).toEqual(expect.arrayContaining(['tweet.write', 'offline.access']));
    const state = authorize.searchParams.get('state')!;
    expect(state.length).toBeGreaterThanOrEqual(40);
    // The consent page, as a browser would submit it.
    const page = await fetch(authorize);
    expect(await page.text()).toContain('<form');
    const form = new URLSearchParams(authorize.searchParams);
    form.set('username', 'oauthuser');
    form.set('decision', 'allow');
    const consent = await fetch(`${authorize.origin}${authorize.pathname}`, { method: 'POST', body: form, redirect: 'manual' });
    const callback = new URL(consent.headers.get('location')!);
    expect(callback.toString().startsWith(`${t.url}/v1/connections/callback?`)).toBe(true);
    const back = await fetch(callback, { redirect: 'manual' });
    expect(back.status).toBe(302);
    const final = new URL(back.headers.get('location')!);
    expect(`${final.origin}${final.pathname}`).toBe('https://app.example.com/connected');
    expect(Object.fromEntries(final.searchParams)).toEqual({ from: 'crier', connection_id: started.body.id, status: 'completed' });

    const connection = (await ws.get(`/v1/connections/${started.body.id}`)).body;
    expect(connection).toMatchObject({ status: 'completed', candidates: [{ username: 'oauthuser', kind: 'user' }] });
    const account = (await ws.get(`/v1/accounts/${connection.account_ids[0]}`)).body;
    expect(account).toMatchObject({ platform: 'x', username: 'oauthuser', status: 'connected', sandbox: true });
    expect(account.auth_expires_at).not.toBeNull();
    // The state was single use.
    expect((await fetch(callback, { redirect: 'manual' })).status).toBe(400);

    const post = await ws.post('/v1/posts', { text: `connected by OAuth ${Date.now()}`, account_ids: [account.id] });
    const records = () => [...t.sandbox.x.tweets.values()].filter((tw) => tw.authorId === account.external_id);
    await expect.poll(() => records().length, { timeout: 10_000 }).toBe(1);
    void post;
  });

  it('sends the user back with status=failed when they deny consent, and connects nothing', async () => {
    const ws = await t.workspace();
    const started = await ws.post('/v1/connections', { platform: 'x', sandbox: true, redirect_url: 'https://app.example.com/connected' });
    const authorize = new URL(started.body.authorize_url);
    const form = new URLSearchParams(authorize.searchParams);
    form.set('username', 'refuser');
    form.set('decision', 'deny');
    const consent = await fetch(`${authorize.origin}${authorize.pathname}`, { method: 'POST', body: form, redirect: 'manual' });
    const back = await fetch(consent.headers.get('location')!, { redirect: 'manual' });
    expect(Object.fromEntries(new URL(back.headers.get('location')!).searchParams)).toMatchObject({ status: 'failed', error: 'ACCESS_DENIED' });
    expect((await ws.get(`/v1/connections/${started.body.id}`)).body).toMatchObject({ status: 'failed', error: { code: 'ACCESS_DENIED' } });
    expect((await ws.get('/v1/accounts')).body.data).toEqual([]);
  });

  it("uses the workspace's own app, whose secret is never shown, and says how to configure one when there is none", async () => {
    const ws = await t.workspace();
    const none = await ws.post('/v1/connections', { platform: 'x', redirect_url: 'https://app.example.com/back' });
    expect(none.status).toBe(422);
    expect(none.body.error).toMatchObject({ code: 'PLATFORM_APP_NOT_CONFIGURED' });
    expect(none.body.error.message).toMatch(/CRIER_X_CLIENT_ID/);

    const app = await ws.request('PUT', '/v1/apps/x', { client_id: 'my-x-client', client_secret: 'my-x-secret-value' });
    expect(app.status).toBe(200);
    expect(JSON.stringify(app.body)).not.toContain('my-x-secret-value');
    expect((await ws.get('/v1/apps')).body.data).toEqual([expect.objectContaining({ platform: 'x', client_id: 'my-x-client' })]);
    const started = await ws.post('/v1/connections', { platform: 'x', redirect_url: 'https://app.example.com/back' });
    expect(started.status).toBe(201);
    const authorize = new URL(started.body.authorize_url);
    expect(`${authorize.origin}${authorize.pathname}`).toBe('https://x.com/i/oauth2/authorize');
    expect(authorize.searchParams.get('client_id')).toBe('my-x-client');
    const stored = await t.sql.query('SELECT client_secret FROM oauth_apps WHERE workspace_id = $1', [ws.workspaceId]);
    expect(stored.rows[0].client_secret.toString('latin1')).not.toContain('my-x-secret-value');
    expect((await ws.request('PUT', '/v1/apps/bluesky', { client_id: 'a', client_secret: 'b' })).body.error.code).toBe('PLATFORM_NOT_SUPPORTED');
    expect((await ws.delete('/v1/apps/x')).status).toBe(204);
  });
});

describe('the OAuth callback', () => {
  it('refuses a missing, unknown or forged state with 400 CONNECTION_STATE_INVALID, redirecting nowhere', async () => {
    const anonymous = client(t.url);
    for (const qs of ['', '?code=abc', '?state=forged&code=abc', '?state=forged&error=access_denied']) {
      const r = await anonymous.get(`/v1/connections/callback${qs}`);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('CONNECTION_STATE_INVALID');
      expect(r.headers.get('location')).toBeNull();
    }
  });
});

describe('secrets at rest', () => {
  it('leaves no usable token, refresh token or app password in a database dump', async () => {
    const ws = await t.workspace();
    const user = await simulatorUser('dana');
    const accountId = (await signIn(ws, user.handle, user.password)).body.account_ids[0] as string;
    const { rows } = await t.sql.query('SELECT credentials FROM accounts WHERE id = $1', [accountId]);
    const creds = openJson<{ accessJwt: string; refreshJwt: string; appPassword: string }>(t.crier.ctx.keyRing, rows[0].credentials, credentialsAad(accountId));
    expect(creds.accessJwt).toMatch(/^eyJ/);

    const { stdout } = await promisify(execFile)('pg_dump', ['--no-owner', '--data-only', t.db.url], { maxBuffer: 256 * 1024 * 1024 });
    expect(stdout).toContain(accountId); // the dump is real and has the account
    for (const secret of [creds.accessJwt, creds.refreshJwt, creds.appPassword, creds.accessJwt.split('.')[2]!]) expect(stdout).not.toContain(secret);
    expect(stdout).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}/);
  });

  it('re-encrypts every secret under a new primary key, after which the old key is no longer needed', async () => {
    const ws = await t.workspace();
    const user = await simulatorUser('erin');
    const accountId = (await signIn(ws, user.handle, user.password)).body.account_ids[0] as string;
    const oldRing = t.crier.ctx.keyRing;
    const newSpec = generateKeySpec('next');
    const oldSpec = [...oldRing.keys].map(([id, key]) => `${id}:${key.toString('base64')}`).join(',');
    const both = parseKeyRing(`${newSpec},${oldSpec}`);

    const report = await reencryptAll(t.crier.ctx.db, both);
    expect(report['accounts.credentials']!.reencrypted).toBeGreaterThan(0);
    expect(Object.values(report).every((r) => r.remaining === 0)).toBe(true);
    // Only the new key now: every account's credentials still open, and are under "next".
    const onlyNew = parseKeyRing(newSpec);
    const { rows } = await t.sql.query('SELECT id, credentials FROM accounts WHERE credentials IS NOT NULL');
    for (const row of rows) {
      expect(keyIdOf(row.credentials)).toBe('next');
      expect(() => openJson(onlyNew, row.credentials, credentialsAad(row.id))).not.toThrow();
    }
    expect(openJson<{ did: string }>(onlyNew, rows.find((r) => r.id === accountId)!.credentials, credentialsAad(accountId)).did).toBe(user.did);
    // A second run finds nothing to do.
    expect(Object.values(await reencryptAll(t.crier.ctx.db, both)).every((r) => r.reencrypted === 0)).toBe(true);
    // Put the running instance's key back in charge for the other tests of this file.
    await reencryptAll(t.crier.ctx.db, parseKeyRing(`${oldSpec},${newSpec}`));
  });
});
