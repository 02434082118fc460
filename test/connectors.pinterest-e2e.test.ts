// Pinterest end to end through Crier's public API against the simulator (Crier started with its own
// public URL, so the simulator fetches images from Crier's signed URLs): an image pin with its Pinterest id
// and URL, a slow video kept processing then pinned by a check, a lost answer read back, and validation at
// creation (a board is required, a pin needs media).
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/sandbox/pinterest/simulator.js';
import { settled, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';
import { makeFixtures, type Fixtures } from './support/media-fixtures.js';

let t: TestCrier;
let fx: Fixtures;

beforeAll(async () => {
  [t, fx] = await Promise.all([
    startTestCrier({ publicUrl: true, env: { CRIER_RATE_LIMIT_PER_MINUTE: '100000', CRIER_PUBLISH_TIMEOUT_MS: '6000', CRIER_LEASE_MS: '10000' } }),
    makeFixtures(),
  ]);
}, 90_000);
afterAll(async () => {
  await t?.stop();
  await fx?.cleanup();
});
beforeEach(() => {
  Object.assign(t.sandbox.pinterest.config, DEFAULT_CONFIG);
  t.sandbox.pinterest.core.clearFaults();
});

async function upload(ws: Tenant, name: string, type: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([await readFile(fx.file(name))], { type }), name);
  const r = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  const body = (await r.json()) as { id: string };
  expect(r.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

const userOf = async (ws: Tenant, acct: string) => (await ws.get(`/v1/accounts/${acct}`)).body.external_id as string;
const boardOf = (userId: string) => [...t.sandbox.pinterest.boards.values()].find((b) => b.ownerId === userId)!.id;
const pins = (userId: string) => [...t.sandbox.pinterest.pins.values()].filter((p) => p.ownerId === userId);
const attempts = async (publicationId: string) => (await t.sql.query(`SELECT kind, outcome FROM publication_attempts WHERE publication_id = $1 ORDER BY number`, [publicationId])).rows;

describe('Pinterest through the API', () => {
  it('pins an image fetched from Crier\'s signed URL and reports the pin id and URL', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('pinterest');
    const user = await userOf(ws, acct);
    const img = await upload(ws, 'tiny.jpg', 'image/jpeg');
    const p = await ws.post('/v1/posts', { text: 'A pin from Crier', account_ids: [acct], media: [{ id: img, alt_text: 'a small photo' }], options: { pinterest: { board_id: boardOf(user), title: 'From Crier', link: 'https://example.com/crier' } } });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 30_000);
    const pub = post.publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', platform: 'pinterest' });
    const [pin] = pins(user);
    expect(pin).toMatchObject({ id: pub.platform_post_id, title: 'From Crier', description: 'A pin from Crier', link: 'https://example.com/crier', altText: 'a small photo', mediaType: 'image' });
    expect(pin!.images[0]!.source.startsWith(`${t.config.publicUrl}/media/${img}/`)).toBe(true);
    expect(pub.url).toMatch(new RegExp(`/pinterest/pin/${pub.platform_post_id}/$`));
    expect((await fetch(pub.url)).status).toBe(200);
  }, 60_000);

  it('keeps a slow video processing, then pins it from the same upload', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('pinterest');
    const user = await userOf(ws, acct);
    t.sandbox.pinterest.config.processingMs = 8_000;
    const vid = await upload(ws, 'clip.mp4', 'video/mp4');
    const p = await ws.post('/v1/posts', { text: 'a slow video', account_ids: [acct], media: [{ id: vid }], options: { pinterest: { board_id: boardOf(user), cover_image_key_frame_time: 2 } } });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 60_000);
    const pub = post.publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', attempts: 1 });
    const rows = await attempts(pub.id);
    expect(rows[0]).toEqual({ kind: 'publish', outcome: 'processing' });
    expect(rows.at(-1)).toEqual({ kind: 'check', outcome: 'published' });
    expect(pins(user)).toEqual([expect.objectContaining({ id: pub.platform_post_id, mediaType: 'video', video: expect.objectContaining({ cover: 'key_frame:2' }) })]);
    expect([...t.sandbox.pinterest.media.values()].filter((m) => m.ownerId === user)).toHaveLength(1);
  }, 90_000);

  it('reads back a pin whose answer was lost instead of pinning it again', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('pinterest');
    const user = await userOf(ws, acct);
    const img = await upload(ws, 'tiny.jpg', 'image/jpeg');
    t.sandbox.pinterest.core.addFault({ operation: 'pins/create', account: user, fault: { kind: 'accept_then_timeout', ms: 8_000 } });
    const p = await ws.post('/v1/posts', { text: 'the answer gets lost', account_ids: [acct], media: [{ id: img }], options: { pinterest: { board_id: boardOf(user) } } });
    const post = await settled(ws, p.body.id, 45_000);
    const pub = post.publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', attempts: 2 });
    expect(pins(user)).toEqual([expect.objectContaining({ id: pub.platform_post_id, description: 'the answer gets lost' })]);
    expect(await attempts(pub.id)).toEqual([{ kind: 'publish', outcome: 'retry' }, { kind: 'reconcile', outcome: 'found' }]);
  }, 60_000);

  it('refuses at creation a pin without a board, without media, or with a description over 500 characters', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('pinterest');
    const noBoard = await ws.post('/v1/posts', { text: `${'a'.repeat(501)}`, account_ids: [acct] });
    expect(noBoard.status).toBe(422);
    expect(noBoard.body.error.details).toEqual(expect.arrayContaining([
      expect.objectContaining({ code: 'OPTION_INVALID', platform: 'pinterest', field: 'options.pinterest.board_id' }),
      expect.objectContaining({ code: 'MEDIA_REQUIRED', platform: 'pinterest' }),
      expect.objectContaining({ code: 'TEXT_TOO_LONG', platform: 'pinterest', limit: 500, actual: 501 }),
    ]));
    const badOption = await ws.post('/v1/posts', { text: 'x', account_ids: [acct], options: { pinterest: { board_id: '1', caption: 'no' } } });
    expect(badOption.status).toBe(400);
  });
});
