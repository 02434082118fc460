// Retention: media no post refers to is deleted (rows and stored files) once older than the retention;
// media a post refers to stays.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCrier, waitFor, type Tenant, type TestCrier } from './support/harness.js';

const TINY_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

let t: TestCrier;
beforeAll(async () => {
  // About two seconds.
  t = await startTestCrier({ env: { CRIER_MEDIA_RETENTION_HOURS: String(2 / 3600), CRIER_SWEEP_INTERVAL_MS: '300' } });
});
afterAll(async () => t?.stop());

async function upload(ws: Tenant): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([TINY_PNG], { type: 'image/png' }), 'dot.png');
  const r = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  expect(r.status).toBe(201);
  return ((await r.json()) as { id: string }).id;
}

const stored = (workspaceId: string, mediaId: string) => {
  const store = t.config.media.store;
  if (store.kind !== 'local') throw new Error('this test reads the local store');
  return path.join(store.dir, 'media', workspaceId, mediaId, 'original');
};

describe('media retention', () => {
  it('deletes files no post refers to once they are older than the retention, and keeps the others', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const used = await upload(ws);
    const unused = await upload(ws);
    const abandoned = (await ws.post('/v1/media/uploads', { filename: 'never.png', content_type: 'image/png', size: 100 })).body.media.id;
    expect((await ws.post('/v1/posts', { text: 'keeps its file', account_ids: [acct], draft: true, media: [{ id: used }] })).status).toBe(201);
    expect(existsSync(stored(ws.workspaceId, unused))).toBe(true);

    for (const id of [unused, abandoned]) await waitFor(async () => ((await ws.get(`/v1/media/${id}`)).status === 404 ? true : undefined), 15_000, 'retention');
    expect(existsSync(stored(ws.workspaceId, unused))).toBe(false);
    expect((await ws.get(`/v1/media/${used}`)).body.status).toBe('ready');
    expect(existsSync(stored(ws.workspaceId, used))).toBe(true);
  });
});
