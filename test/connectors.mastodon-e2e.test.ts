// Mastodon end to end through Crier's public API and worker against the simulated instance: a sandbox
// account publishes a thread with a content warning and an image, a slow video goes through "processing"
// (Pending, then checkStatus), Mastodon's counting refuses a post at creation, and an account connects by
// OAuth (authorize URL with PKCE, consent, callback) and publishes.
import sharp from 'sharp';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { forgetInstanceLimits } from '../src/connectors/mastodon/instance.js';
import { DEFAULT_CONFIG } from '../src/sandbox/mastodon/state.js';
import { settled, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';

let t: TestCrier;
let tmp: string;
let jpeg: Buffer;
let mp4: Buffer;

beforeAll(async () => {
  t = await startTestCrier();
  tmp = await mkdtemp(path.join(tmpdir(), 'crier-masto-e2e-'));
  const video = path.join(tmp, 'clip.mp4');
  await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10:duration=1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', video]);
  [jpeg, mp4] = await Promise.all([sharp({ create: { width: 400, height: 300, channels: 3, background: '#336699' } }).jpeg().toBuffer(), readFile(video)]);
}, 60_000);
afterAll(async () => {
  await t?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  Object.assign(t.sandbox.mastodon.config, DEFAULT_CONFIG);
  forgetInstanceLimits();
});

async function upload(ws: Tenant, bytes: Buffer, type: string, name: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), name);
  const r = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  const body = (await r.json()) as { id: string };
  expect(r.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

const statusesOf = (accountId: string) => [...t.sandbox.mastodon.statuses.values()].filter((s) => s.accountId === accountId).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
const simAccountId = async (ws: Tenant, acct: string) => ((await ws.get(`/v1/accounts/${acct}`)).body.external_id as string).split('@')[0]!;

describe('Mastodon through the Crier API', () => {
  it('publishes a thread with a content warning and an image, with the first status\'s id and URL', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('mastodon', 'tooter');
    expect((await ws.get(`/v1/accounts/${acct}`)).body).toMatchObject({ platform: 'mastodon', username: '@tooter@sandbox', sandbox: true });
    const img = await upload(ws, jpeg, 'image/jpeg', 'blue.jpg');
    const created = await ws.post('/v1/posts', {
      text: 'A thread about releases 🧵',
      account_ids: [acct],
      media: [{ id: img, alt_text: 'a blue rectangle' }],
      options: { mastodon: { visibility: 'unlisted', spoiler_text: 'release talk', language: 'en', thread: [{ text: 'Second: the changes' }, { text: 'Third: thanks!' }] } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const post = await settled(ws, created.body.id, 30_000);
    const [p] = post.publications;
    expect(p.status, JSON.stringify(p.error)).toBe('published');
    const chain = statusesOf(await simAccountId(ws, acct));
    expect(chain.map((s) => [s.text, s.spoilerText, s.visibility])).toEqual([
      ['A thread about releases 🧵', 'release talk', 'unlisted'],
      ['Second: the changes', 'release talk', 'unlisted'],
      ['Third: thanks!', 'release talk', 'unlisted'],
    ]);
    expect(chain.map((s) => s.inReplyToId)).toEqual([null, chain[0]!.id, chain[1]!.id]);
    expect(t.sandbox.mastodon.media.get(chain[0]!.mediaIds[0]!)).toMatchObject({ type: 'image', description: 'a blue rectangle' });
    expect(p.platform_post_id).toBe(chain[0]!.id);
    expect(p.url).toBe(`${t.sandbox.url}/mastodon/@tooter/${chain[0]!.id}`);
    expect((await fetch(p.url)).status).toBe(200);
  }, 60_000);

  it('holds a publication as processing while the instance processes a video, then publishes it', async () => {
    t.sandbox.mastodon.config.processingMs = 4_000;
    const ws = await t.workspace();
    const acct = await ws.account('mastodon');
    const vid = await upload(ws, mp4, 'video/mp4', 'clip.mp4');
    const created = await ws.post('/v1/posts', { text: 'a clip', account_ids: [acct], media: [{ id: vid }] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const post = await settled(ws, created.body.id, 45_000);
    expect(post.publications[0].status, JSON.stringify(post.publications[0].error)).toBe('published');
    const [s] = statusesOf(await simAccountId(ws, acct));
    expect(t.sandbox.mastodon.media.get(s!.mediaIds[0]!)).toMatchObject({ type: 'video' });
    // Uploaded once; the attempt that found it still processing handed over to status checks.
    const uploads = t.sandbox.mastodon.core.log.filter((r) => r.operation === 'media.create' && r.account === s!.accountId);
    expect(uploads).toHaveLength(1);
    const kinds = await t.sql.query(`SELECT kind FROM publication_attempts WHERE publication_id = $1 ORDER BY number`, [post.publications[0].id]);
    expect(kinds.rows.map((r) => r.kind)).toContain('check');
  }, 60_000);

  it('refuses at creation a post over 500 characters counted the Mastodon way, and takes a long link', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('mastodon');
    const over = await ws.post('/v1/posts', { text: 'x'.repeat(490), account_ids: [acct], options: { mastodon: { spoiler_text: 'a warning!!' } } });
    expect(over.status).toBe(422);
    expect(over.body.error.details).toContainEqual(expect.objectContaining({ platform: 'mastodon', code: 'TEXT_TOO_LONG', limit: 500, actual: 501 }));
    const link = await ws.post('/v1/posts', { text: `${'y'.repeat(470)} https://example.com/${'z'.repeat(300)}`, account_ids: [acct] });
    expect(link.status, JSON.stringify(link.body)).toBe(201);
    const bad = await ws.post('/v1/posts', { text: 'hi', account_ids: [acct], options: { mastodon: { visibility: 'friends' } } });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('connects an account by OAuth (PKCE, consent, callback) and publishes with it', async () => {
    const ws = await t.workspace();
    const started = await ws.post('/v1/connections', { platform: 'mastodon', sandbox: true, redirect_url: 'https://app.example.com/connected' });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const authorize = new URL(started.body.authorize_url);
    expect(authorize.pathname).toBe('/mastodon/oauth/authorize');
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({ scope: 'read write:statuses write:media', code_challenge_method: 'S256', client_id: 'crier-sandbox' });
    const form = new URLSearchParams(authorize.searchParams);
    form.set('username', 'oauth_tooter');
    form.set('decision', 'allow');
    const consent = await fetch(`${authorize.origin}${authorize.pathname}`, { method: 'POST', body: form, redirect: 'manual' });
    const back = await fetch(consent.headers.get('location')!, { redirect: 'manual' });
    expect(new URL(back.headers.get('location')!).searchParams.get('status')).toBe('completed');
    const connection = (await ws.get(`/v1/connections/${started.body.id}`)).body;
    const account = (await ws.get(`/v1/accounts/${connection.account_ids[0]}`)).body;
    expect(account).toMatchObject({ platform: 'mastodon', username: '@oauth_tooter@sandbox', kind: 'user', status: 'connected', auth_expires_at: null });
    const post = await ws.post('/v1/posts', { text: 'connected by OAuth', account_ids: [account.id] });
    expect((await settled(ws, post.body.id, 30_000)).publications[0].status).toBe('published');
    expect(statusesOf(account.external_id.split('@')[0]).map((s) => s.text)).toEqual(['connected by OAuth']);
  }, 60_000);
});
