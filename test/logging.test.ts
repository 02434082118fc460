// Logs are JSON with request ids, and never contain an API key, a token or a password.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, settled, startTestCrier, type TestCrier } from './support/harness.js';

let t: TestCrier;
const lines: string[] = [];
beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  t = await startTestCrier({ log: pino({ level: 'trace' }, sink) });
});
afterAll(async () => t?.stop());

describe('logs', () => {
  it('never contain keys, tokens or passwords, even when things fail', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const did = (await ws.get(`/v1/accounts/${account}`)).body.external_id;
    // A refresh (tokens in flight), a server error, a refused request with a key in its header.
    t.sandbox.bluesky.core.addFault({ operation: 'com.atproto.repo.createRecord', account: did, times: 1, fault: { kind: 'expired_token' } });
    const ok = await ws.post('/v1/posts', { text: 'logged', account_ids: [account] });
    await settled(ws, ok.body.id);
    t.sandbox.bluesky.core.addFault({ operation: 'com.atproto.repo.createRecord', account: did, times: -1, fault: { kind: 'status', status: 500 } });
    const failing = await ws.post('/v1/posts', { text: 'fails', account_ids: [account] });
    await settled(ws, failing.body.id, 20_000);
    t.sandbox.bluesky.core.clearFaults();
    await ws.post('/v1/posts', '{broken', { 'content-type': 'application/json' });

    const sim = t.sandbox.bluesky.accounts.get(did)!;
    const secrets = [ws.key, ADMIN_KEY, sim.password];
    const text = lines.join('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/); // no JWT (access or refresh token)
    expect(text).not.toMatch(/crier_sk_[A-Za-z0-9]{20,}/);
    // Every request line is JSON and carries its request id.
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requests.length).toBeGreaterThan(5);
    for (const r of requests) expect(r.reqId).toMatch(/^req_/);
  });
});
