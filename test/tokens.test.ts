// The token lifecycle against the platform simulators, run by the token job the sweeper calls: refresh
// ahead of expiry with X's single-use rotating refresh tokens (saved before use), a definitive refusal
// disconnects with the reason, a transient failure is retried with backoff and the account stays, Threads
// renews its access token itself, and a token that cannot be refreshed (LinkedIn for most apps) asks for a
// reconnect a week ahead and turns reconnect_required only once it has expired.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OAuthTokens } from '../src/connectors/auth-types.js';
import { openJson, sealJson } from '../src/lib/crypto.js';
import { credentialsAad } from '../src/services/accounts.js';
import { runTokenChecks, saveConnectedAccount } from '../src/services/account-tokens.js';
import { withTransaction } from '../src/db/pool.js';
import { settled, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  // The sweeper would run the token job by itself; the tests run it when they choose.
  t = await startTestCrier({ env: { CRIER_SWEEP_INTERVAL_MS: '3600000' } });
});
afterAll(async () => t?.stop());

type Creds = OAuthTokens & Record<string, unknown>;
const credsOf = async (id: string) => {
  const { rows } = await t.sql.query('SELECT credentials FROM accounts WHERE id = $1', [id]);
  return openJson<Creds>(t.crier.ctx.keyRing, rows[0].credentials, credentialsAad(id));
};
const accountRow = async (id: string) => (await t.sql.query('SELECT status, status_reason, token_expires_at, next_token_check_at, token_failures FROM accounts WHERE id = $1', [id])).rows[0];
const dueNow = (id: string) => t.sql.query(`UPDATE accounts SET next_token_check_at = now() - interval '1 second' WHERE id = $1`, [id]);
const events = async (ws: Tenant, type: string) => (await t.sql.query('SELECT data FROM events WHERE workspace_id = $1 AND type = $2 ORDER BY id', [ws.workspaceId, type])).rows.map((r) => r.data);

async function sandboxAccount(ws: Tenant, platform: string) {
  const r = await ws.post('/v1/accounts', { platform, sandbox: true, username: `tok${Math.random().toString(36).slice(2, 8)}` });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; external_id: string; auth_expires_at: string | null };
}

describe('token lifecycle', () => {
  it('refreshes an X account ahead of expiry, storing the rotated refresh token, and keeps publishing', async () => {
    const ws = await t.workspace();
    const account = await sandboxAccount(ws, 'x');
    expect(account.auth_expires_at).not.toBeNull();
    const before = await credsOf(account.id);
    const row = await accountRow(account.id);
    // Planned for about 80% of the 2-hour life.
    expect(row.next_token_check_at.getTime()).toBeLessThan(Date.parse(before.expiresAt!) - 5 * 60_000);

    await dueNow(account.id);
    expect(await runTokenChecks(t.crier.ctx)).toBeGreaterThanOrEqual(1);
    const after = await credsOf(account.id);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect((await accountRow(account.id)).next_token_check_at.getTime()).toBeGreaterThan(Date.now());
    const post = await ws.post('/v1/posts', { text: `after a refresh ${Date.now()}`, account_ids: [account.id] });
    const done = await settled(ws, post.body.id, 30_000).catch(async (e) => { console.log(JSON.stringify((await ws.get(`/v1/posts/${post.body.id}`)).body)); throw e; });
    expect(done.publications[0].status).toBe('published');
    // The old refresh token is spent at X: had it been kept, the account would be lost at the next refresh.
    // (Its reuse also ends the token family, as X does: so this check comes last.)
    const replay = await fetch(`${t.sandbox.url}/x/2/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('crier-sandbox:crier-sandbox-secret').toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before.refreshToken! }).toString(),
    });
    expect(replay.status).toBe(400);

  });

  it('disconnects an account, with the reason, only when the platform refuses the refresh for good', async () => {
    const ws = await t.workspace();
    const account = await sandboxAccount(ws, 'x');
    const scheduled = await ws.post('/v1/posts', { text: 'later', account_ids: [account.id], scheduled_at: new Date(Date.now() + 86_400_000).toISOString() });
    t.sandbox.x.oauth.revokeUser(account.external_id); // the user removed the app on X
    await dueNow(account.id);
    await runTokenChecks(t.crier.ctx);
    const row = await accountRow(account.id);
    expect(row.status).toBe('disconnected');
    expect(row.status_reason).toMatch(/refresh/);
    expect((await events(ws, 'account.disconnected'))[0]).toMatchObject({ account_id: account.id, platform: 'x' });
    // Its scheduled publication is failed with a clear code, not left to fail at its time.
    expect((await ws.get(`/v1/posts/${scheduled.body.id}`)).body.publications[0]).toMatchObject({ status: 'failed', error: { code: 'ACCOUNT_DISCONNECTED' } });
  });

  it('keeps the account and retries later when the refresh fails for a passing reason', async () => {
    const ws = await t.workspace();
    const account = await sandboxAccount(ws, 'x');
    const before = await credsOf(account.id);
    t.sandbox.x.core.addFault({ operation: 'oauth.token', fault: { kind: 'status', status: 503 } });
    try {
      await dueNow(account.id);
      await runTokenChecks(t.crier.ctx);
    } finally {
      t.sandbox.x.core.clearFaults();
    }
    const row = await accountRow(account.id);
    expect(row).toMatchObject({ status: 'connected', token_failures: 1 });
    expect(row.next_token_check_at.getTime() - Date.now()).toBeGreaterThan(50_000);
    expect((await credsOf(account.id)).refreshToken).toBe(before.refreshToken);
    // The next try succeeds and resets the count.
    await dueNow(account.id);
    await runTokenChecks(t.crier.ctx);
    expect(await accountRow(account.id)).toMatchObject({ status: 'connected', token_failures: 0 });
    expect((await credsOf(account.id)).refreshToken).not.toBe(before.refreshToken);
  });

  it('renews a Threads token (no refresh token: the token renews itself) instead of asking for a reconnect', async () => {
    t.sandbox.threads.config.refreshMinAgeSec = 0;
    const ws = await t.workspace();
    const account = await sandboxAccount(ws, 'threads');
    const before = await credsOf(account.id);
    expect(before.refreshToken).toBeUndefined();
    await dueNow(account.id);
    await runTokenChecks(t.crier.ctx);
    const after = await credsOf(account.id);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(await events(ws, 'account.reconnect_required')).toEqual([]);
  });

  it('warns a week ahead about a token that cannot be refreshed, and requires a reconnect once it expired', async () => {
    const ws = await t.workspace();
    const account = await sandboxAccount(ws, 'linkedin');
    // As most LinkedIn apps get it: a 60-day token and no refresh token.
    const creds = await credsOf(account.id);
    delete creds.refreshToken;
    const expires = new Date(Date.now() + 3 * 86_400_000);
    creds.expiresAt = expires.toISOString();
    await t.sql.query(`UPDATE accounts SET credentials = $2, token_expires_at = $3, next_token_check_at = now() - interval '1 second' WHERE id = $1`, [account.id, sealJson(t.crier.ctx.keyRing, creds, credentialsAad(account.id)), expires]);

    await runTokenChecks(t.crier.ctx);
    expect((await accountRow(account.id)).status).toBe('connected'); // it still works until then
    expect(await events(ws, 'account.reconnect_required')).toEqual([expect.objectContaining({ account_id: account.id, expires_at: expires.toISOString() })]);
    await runTokenChecks(t.crier.ctx); // not due again until it expires: no second warning
    expect(await events(ws, 'account.reconnect_required')).toHaveLength(1);

    await t.sql.query(`UPDATE accounts SET token_expires_at = now() - interval '1 minute', next_token_check_at = now() - interval '1 second' WHERE id = $1`, [account.id]);
    await runTokenChecks(t.crier.ctx);
    const row = await accountRow(account.id);
    expect(row.status).toBe('reconnect_required');
    expect(row.status_reason).toMatch(/reconnect/);
    expect(await events(ws, 'account.reconnect_required')).toHaveLength(2);
  });

  it('disconnects an account whose publication the platform refused because access was revoked', async () => {
    const ws = await t.workspace();
    const account = await sandboxAccount(ws, 'bluesky');
    t.sandbox.bluesky.core.addFault({ operation: 'com.atproto.repo.createRecord', account: account.external_id, fault: { kind: 'status', status: 400, body: { error: 'AccountTakedown', message: 'Account has been taken down' } } });
    const post = await ws.post('/v1/posts', { text: 'to a taken-down account', account_ids: [account.id] });
    const done = await settled(ws, post.body.id);
    expect(done.publications[0]).toMatchObject({ status: 'failed', error: { category: 'revoked' } });
    expect(await accountRow(account.id)).toMatchObject({ status: 'disconnected', status_reason: expect.stringMatching(/taken down/) });
    expect((await events(ws, 'account.disconnected'))[0]).toMatchObject({ account_id: account.id });
  });

  it('keeps the stored refresh token when a reconnect answers without one', async () => {
    const ws = await t.workspace();
    const account = await sandboxAccount(ws, 'x');
    const before = await credsOf(account.id);
    expect(before.refreshToken).toBeTruthy();
    // A reconnect whose token answer carries no refresh token (as some platforms do on re-consent).
    const { refreshToken: _dropped, ...withoutRefresh } = before;
    const saved = await withTransaction(t.crier.ctx.db, (tx) =>
      saveConnectedAccount(tx, t.crier.ctx, {
        workspaceId: ws.workspaceId,
        platform: 'x',
        sandbox: true,
        appId: null,
        instanceUrl: null,
        candidate: { externalId: account.external_id, username: 'again', displayName: 'again', kind: 'user', credentials: { ...withoutRefresh, accessToken: 'a-new-access-token' } },
      }),
    );
    expect(saved).toEqual({ id: account.id, reconnected: true });
    const after = await credsOf(account.id);
    expect(after.accessToken).toBe('a-new-access-token');
    expect(after.refreshToken).toBe(before.refreshToken);
  });
});
