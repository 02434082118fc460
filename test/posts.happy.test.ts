import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settled, startTestCrier, waitFor, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier();
});
afterAll(async () => t?.stop());

describe('publishing a post now', () => {
  it('publishes to every account and reports each outcome separately', async () => {
    const ws = await t.workspace();
    const a1 = await ws.account('bluesky', 'alice');
    const a2 = await ws.account('bluesky', 'bob');
    const created = await ws.post('/v1/posts', { text: 'Hello from Crier 👋', account_ids: [a1, a2] });
    expect(created.status).toBe(201);
    expect(created.body.publications).toHaveLength(2);
    const post = await settled(ws, created.body.id);
    expect(post.status).toBe('published');
    for (const p of post.publications) {
      expect(p.status).toBe('published');
      expect(p.attempts).toBe(1);
      expect(p.platform_post_id).toMatch(/^at:\/\/did:plc:[a-z0-9]+\/app\.bsky\.feed\.post\/[a-z2-7]{13}$/);
      expect(p.published_at).not.toBeNull();
    }
    // The simulator holds exactly these records, with the text as sent.
    const records = [...t.sandbox.bluesky.repos.values()].flatMap((m) => [...m.values()]).filter((r) => r.value['text'] === 'Hello from Crier 👋');
    expect(records.map((r) => r.uri).sort()).toEqual(post.publications.map((p: any) => p.platform_post_id).sort());
  });
});

describe('scheduling', () => {
  it('publishes a scheduled post at its time, not before', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const at = new Date(Date.now() + 1500);
    const created = await ws.post('/v1/posts', { text: 'later', account_ids: [account], scheduled_at: at.toISOString() });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('scheduled');
    const post = await settled(ws, created.body.id);
    expect(post.status).toBe('published');
    expect(new Date(post.publications[0].published_at).getTime()).toBeGreaterThanOrEqual(at.getTime());
  });
});
