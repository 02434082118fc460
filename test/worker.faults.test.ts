// The worker against platform faults injected in the simulator: every publication must end in a terminal
// state with a classified error, and never publish twice.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { settled, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier();
});
afterAll(async () => t?.stop());
beforeEach(() => t.sandbox.bluesky.core.clearFaults());

const CREATE = 'com.atproto.repo.createRecord';
const GET = 'com.atproto.repo.getRecord';

async function didOf(ws: Tenant, accountId: string): Promise<string> {
  return (await ws.get(`/v1/accounts/${accountId}`)).body.external_id;
}

function recordsOf(did: string) {
  return [...(t.sandbox.bluesky.repos.get(did)?.values() ?? [])];
}

function requests(did: string, operation: string) {
  return t.sandbox.bluesky.core.log.filter((r) => r.account === did && r.operation === operation);
}

async function publish(ws: Tenant, accountId: string, text: string) {
  const r = await ws.post('/v1/posts', { text, account_ids: [accountId] });
  expect(r.status).toBe(201);
  return settled(ws, r.body.id, 20_000);
}

describe('retryable platform errors', () => {
  it('retries a 503 with backoff and publishes once', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const did = await didOf(ws, account);
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: did, times: 2, fault: { kind: 'status', status: 503 } });
    const post = await publish(ws, account, 'survives two 503s');
    const pub = post.publications[0];
    expect(pub.status).toBe('published');
    expect(pub.attempts).toBe(3);
    expect(recordsOf(did)).toHaveLength(1);
    const attempts = (await t.sql.query('SELECT number, outcome, error FROM publication_attempts WHERE publication_id = $1 ORDER BY number', [pub.id])).rows;
    expect(attempts.map((a) => a.outcome)).toEqual(['retry', 'retry', 'published']);
    expect(attempts[0].error.code).toBe('PLATFORM_UNAVAILABLE');
  });

  it('fails with the last error once the attempts are used up', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const did = await didOf(ws, account);
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: did, times: -1, fault: { kind: 'status', status: 500 } });
    const post = await publish(ws, account, 'never gets through');
    const pub = post.publications[0];
    expect(pub.status).toBe('failed');
    expect(pub.attempts).toBe(t.config.worker.maxAttempts);
    expect(pub.error).toMatchObject({ code: 'PLATFORM_UNAVAILABLE', category: 'transient', retryable: true, platform_code: 'InternalServerError' });
    expect(pub.error.message).toContain(`gave up after ${t.config.worker.maxAttempts} attempts`);
    expect(post.status).toBe('failed');
    expect(recordsOf(did)).toHaveLength(0);
  });

  it('waits out a 429 until Retry-After and parks the account meanwhile', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const did = await didOf(ws, account);
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: did, times: 1, fault: { kind: 'rate_limit', retry_after_seconds: 2 } });
    const started = Date.now();
    const post = await publish(ws, account, 'rate limited once');
    expect(post.publications[0].status).toBe('published');
    const calls = requests(did, CREATE);
    expect(calls).toHaveLength(2);
    expect(new Date(calls[1]!.at).getTime() - new Date(calls[0]!.at).getTime()).toBeGreaterThanOrEqual(1_900);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    const blocked = (await t.sql.query('SELECT blocked_until FROM accounts WHERE id = $1', [account])).rows[0].blocked_until;
    expect(blocked).not.toBeNull();
  });
});

describe('outcome unknown', () => {
  it('reads back after a timeout and does not publish twice when the platform had accepted', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const did = await didOf(ws, account);
    // The platform stores the post, then answers after the client's 2 s timeout.
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: did, times: 1, fault: { kind: 'accept_then_timeout', ms: 3_000 } });
    const post = await publish(ws, account, 'accepted, then silence');
    const pub = post.publications[0];
    expect(pub.status).toBe('published');
    expect(recordsOf(did)).toHaveLength(1);
    expect(pub.platform_post_id).toBe(recordsOf(did)[0]!.uri);
    expect(requests(did, CREATE)).toHaveLength(1);
    const attempts = (await t.sql.query('SELECT kind, outcome FROM publication_attempts WHERE publication_id = $1 ORDER BY number', [pub.id])).rows;
    expect(attempts).toEqual([
      { kind: 'publish', outcome: 'retry' },
      { kind: 'reconcile', outcome: 'found' },
    ]);
  });

  it('becomes unconfirmed when the read-back keeps failing, and never re-posts', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const did = await didOf(ws, account);
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: did, times: 1, fault: { kind: 'accept_then_timeout', ms: 3_000 } });
    t.sandbox.bluesky.core.addFault({ operation: GET, times: -1, fault: { kind: 'status', status: 502 } });
    const post = await publish(ws, account, 'cannot be confirmed');
    const pub = post.publications[0];
    expect(pub.status).toBe('unconfirmed');
    expect(pub.error.code).toBe('OUTCOME_UNKNOWN');
    expect(post.status).toBe('unconfirmed');
    expect(requests(did, CREATE)).toHaveLength(1);
    expect(recordsOf(did)).toHaveLength(1);
  });
});

describe('credentials', () => {
  it('refreshes an expired session, stores the rotated tokens, and publishes', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const did = await didOf(ws, account);
    const before = (await t.sql.query('SELECT credentials FROM accounts WHERE id = $1', [account])).rows[0].credentials;
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: did, times: 1, fault: { kind: 'expired_token' } });
    const post = await publish(ws, account, 'after a refresh');
    expect(post.publications[0].status).toBe('published');
    expect(requests(did, 'com.atproto.server.refreshSession')).toHaveLength(1);
    const after = (await t.sql.query('SELECT credentials FROM accounts WHERE id = $1', [account])).rows[0].credentials;
    expect(Buffer.compare(before, after)).not.toBe(0);
    // The rotated refresh token is the one stored: a second expiry refreshes again with it.
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: did, times: 1, fault: { kind: 'expired_token' } });
    expect((await publish(ws, account, 'after a second refresh')).publications[0].status).toBe('published');
  });

  it('fails with PLATFORM_AUTH_EXPIRED and marks the account for reconnection when refresh is refused', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const did = await didOf(ws, account);
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: did, times: 1, fault: { kind: 'expired_token' } });
    t.sandbox.bluesky.core.addFault({ operation: 'com.atproto.server.refreshSession', times: 1, fault: { kind: 'expired_token' } });
    t.sandbox.bluesky.core.addFault({ operation: 'com.atproto.server.createSession', times: 1, fault: { kind: 'status', status: 401, body: { error: 'AuthenticationRequired', message: 'Invalid identifier or password' } } });
    const post = await publish(ws, account, 'no way in');
    expect(post.publications[0].status).toBe('failed');
    expect(post.publications[0].error).toMatchObject({ code: 'PLATFORM_AUTH_EXPIRED', category: 'auth_expired', retryable: false });
    const acct = (await ws.get(`/v1/accounts/${account}`)).body;
    expect(acct.status).toBe('reconnect_required');
    const events = (await t.sql.query(`SELECT type FROM events WHERE workspace_id = $1 AND type LIKE 'account.%' ORDER BY id`, [ws.workspaceId])).rows.map((r) => r.type);
    expect(events).toEqual(['account.connected', 'account.reconnect_required']);
  });
});

describe('content the platform refuses', () => {
  it('fails at once without retrying a 400 InvalidRequest', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const did = await didOf(ws, account);
    t.sandbox.bluesky.core.addFault({ operation: CREATE, account: did, times: 1, fault: { kind: 'status', status: 400, body: { error: 'InvalidRequest', message: 'Invalid app.bsky.feed.post record' } } });
    const post = await publish(ws, account, 'refused');
    expect(post.publications[0]).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'CONTENT_REJECTED', category: 'invalid_content', platform_code: 'InvalidRequest', retryable: false } });
  });
});

describe('events', () => {
  it('writes publication and post events in the outbox with the outcome', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const post = await publish(ws, account, 'evented');
    const events = (await t.sql.query(`SELECT type, data FROM events WHERE workspace_id = $1 AND type NOT LIKE 'api_key.%' ORDER BY id`, [ws.workspaceId])).rows;
    expect(events.map((e) => e.type)).toEqual(['account.connected', 'post.created', 'post.scheduled', 'publication.published', 'post.completed']);
    expect(events[3].data).toMatchObject({ publication_id: post.publications[0].id, platform_post_id: post.publications[0].platform_post_id });
    expect(events[4].data).toEqual({ post_id: post.id, status: 'published', summary: { published: 1 } });
  });
});
