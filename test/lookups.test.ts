// Lookups through the public API against the simulators: a Pinterest account's boards, a subreddit's
// rules as the account sees them, and the refusals (unknown lookup or parameter, a subreddit that does not
// exist, another workspace's account).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCrier, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier({ env: { CRIER_RATE_LIMIT_PER_MINUTE: '100000' } });
}, 60_000);
afterAll(async () => t?.stop());

describe('lookups', () => {
  it("lists a Pinterest account's boards to its own workspace only", async () => {
    const ws = await t.workspace();
    const acct = await ws.account('pinterest');
    const first = await ws.get(`/v1/accounts/${acct}/lookups/boards`);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.data).toEqual([expect.objectContaining({ name: 'Sandbox board', privacy: 'PUBLIC' })]);
    const reader = await ws.keyWithScopes(['read']);
    expect((await reader.get(`/v1/accounts/${acct}/lookups/boards`)).status).toBe(200);
    const other = await t.workspace();
    expect((await other.get(`/v1/accounts/${acct}/lookups/boards`)).status).toBe(404);
  });

  it("describes a subreddit's post kinds, requirements and flairs, and refuses one that does not exist", async () => {
    const ws = await t.workspace();
    const acct = await ws.account('reddit');
    const r = await ws.get(`/v1/accounts/${acct}/lookups/subreddit?name=r/sandbox`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data).toMatchObject({ name: 'sandbox', post_kinds: { self: true }, you: { banned: false }, requirements: expect.objectContaining({ flair_required: expect.any(Boolean) }) });
    expect(Array.isArray(r.body.data.flairs)).toBe(true);
    const missing = await ws.get(`/v1/accounts/${acct}/lookups/subreddit?name=nosuchsubredditxyz`);
    expect(missing.status).toBe(422);
    expect(missing.body.error).toMatchObject({ code: 'LOOKUP_REFUSED' });
    expect(missing.body.error.message).toContain('does not exist');
    expect((await ws.get(`/v1/accounts/${acct}/lookups/subreddit?name=sandbox&extra=1`)).status).toBe(400);
    const unknown = await ws.get(`/v1/accounts/${acct}/lookups/boards`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain('subreddit');
  });
});
