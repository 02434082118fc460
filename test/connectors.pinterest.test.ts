// The Pinterest connector against its simulator over real HTTP: image pins pulled from a URL (the simulator
// really fetches it from a small file server standing in for Crier's signed URLs) or sent inline as base64,
// carousels, boards listed by bookmark, validation, every error class, and a lost answer read back from the
// board so the pin is not made twice. Pinterest has no text-only pins, so the shared contract suite does not
// apply; its cases (400, 401 refresh, 403, 429, 5xx, unreachable, lost answer) are here.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_APP } from '../src/connectors/auth-types.js';
import { pinterestAuth, type PinterestCredentials } from '../src/connectors/pinterest/auth.js';
import { listBoards, pinterestConnector } from '../src/connectors/pinterest/connector.js';
import { isPending, type ConnectorCtx, type DraftMedia, type PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { createPinterestSimulator, DEFAULT_CONFIG, type PinterestSimulator } from '../src/sandbox/pinterest/simulator.js';

const silent = { info() {}, warn() {}, error() {} };
let sim: PinterestSimulator;
let app: FastifyInstance;
let base: string;
let files: http.Server;
let filesUrl: string;
const served = new Map<string, Buffer>();
const hits: string[] = [];
let jpeg: Buffer;
let png: Buffer;

beforeAll(async () => {
  sim = createPinterestSimulator();
  app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(sim.plugin, { prefix: '/pinterest' });
  base = `${await app.listen({ port: 0, host: '127.0.0.1' })}/pinterest`;
  files = http.createServer((req, res) => {
    hits.push(req.url!);
    const f = served.get(req.url!.split('?')[0]!);
    if (!f) return void res.writeHead(404).end('not here');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': f.length }).end(f);
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  [jpeg, png] = await Promise.all([
    sharp({ create: { width: 400, height: 600, channels: 3, background: '#3366aa' } }).jpeg().toBuffer(),
    sharp({ create: { width: 300, height: 300, channels: 4, background: '#aa336680' } }).png().toBuffer(),
  ]);
});
afterAll(async () => {
  await app?.close();
  await new Promise((r) => files?.close(r));
});
beforeEach(() => {
  sim.core.clearFaults();
  Object.assign(sim.config, DEFAULT_CONFIG);
});

/** Serves `bytes` at a fresh path; a DraftMedia with its URL (as Crier's signed URL), or without one. */
function image(bytes: Buffer, opts: { url?: boolean; alt?: string; type?: string } = {}): DraftMedia {
  const p = `/media/${newId('media')}`;
  served.set(p, bytes);
  return { mediaId: p, kind: 'image', mimeType: opts.type ?? 'image/jpeg', size: bytes.length, width: 1, height: 1, alt: opts.alt, url: opts.url === false ? null : `${filesUrl}${p}?sig=abc`, open: async () => Readable.from([bytes]) };
}

type Account = { ctx: ConnectorCtx<PinterestCredentials>; id: string; board: string; refreshes: () => number; saved: PinterestCredentials[] };

async function account(): Promise<Account> {
  const name = `p${Math.random().toString(36).slice(2, 10)}`;
  const created = await pinterestConnector.sandbox!.createAccount(base, name);
  let refreshes = 0;
  const saved: PinterestCredentials[] = [];
  const ctx: ConnectorCtx<PinterestCredentials> = {
    credentials: created.credentials,
    saveCredentials: async (c) => void saved.push(c),
    refresh: async () => {
      refreshes++;
      const r = await pinterestAuth.refresh!({ baseUrl: base, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(5_000) }, ctx.credentials);
      if (r.ok) {
        ctx.credentials = r.value;
        saved.push(r.value);
      }
      return r;
    },
    checkpoint: async () => {},
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(15_000),
  };
  const boards = await listBoards(ctx);
  if (!boards.ok) throw new Error(boards.error.message);
  return { ctx, id: created.externalId, board: boards.value[0]!.id, refreshes: () => refreshes, saved };
}

function draft(a: Account, text: string, media: DraftMedia[], options: Record<string, unknown> = {}): PublicationDraft {
  const id = newId('publication');
  const d: PublicationDraft = { publicationId: id, marker: id, text, options: { board_id: a.board, ...options }, media, checkpoint: null };
  a.ctx.checkpoint = async (state) => void (d.checkpoint = state);
  return d;
}

const pinsOf = (userId: string) => [...sim.pins.values()].filter((p) => p.ownerId === userId);
const log = (userId: string, operation: string) => sim.core.log.filter((r) => r.account === userId && r.operation === operation).map((r) => r.status);
const unique = (what: string) => `${what} ${Math.random().toString(36).slice(2, 8)}`;

async function publishOk(a: Account, d: PublicationDraft) {
  const r = await pinterestConnector.publish(a.ctx, d);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  if (isPending(r.value)) throw new Error('unexpected Pending');
  return r.value;
}

describe('image pins', () => {
  it('pins an image by its URL: Pinterest fetched it, with title, description, link and alt text', async () => {
    const a = await account();
    const img = image(jpeg, { alt: 'a blue field' });
    const p = await publishOk(a, draft(a, 'A blue picture', [img], { title: 'Blue', link: 'https://example.com/blue', dominant_color: '#3366AA' }));
    expect(p.url).toBe(`${base}/pin/${p.platformPostId}/`);
    const [pin] = pinsOf(a.id);
    expect(pin).toMatchObject({ id: p.platformPostId, boardId: a.board, title: 'Blue', description: 'A blue picture', link: 'https://example.com/blue', altText: 'a blue field', dominantColor: '#3366AA', mediaType: 'image' });
    expect(pin!.images).toEqual([{ source: img.url, mimeType: 'image/jpeg', width: 400, height: 600, bytes: jpeg.length }]);
    expect(hits).toContain(new URL(img.url!).pathname + '?sig=abc');
    const page = await fetch(p.url);
    expect(await page.text()).toContain('A blue picture');
  });

  it('sends the bytes inline (image_base64) when the file has no public URL', async () => {
    const a = await account();
    const before = hits.length;
    const p = await publishOk(a, draft(a, 'inline png', [image(png, { url: false, type: 'image/png' })]));
    expect(pinsOf(a.id)).toEqual([expect.objectContaining({ id: p.platformPostId, images: [expect.objectContaining({ source: 'base64', mimeType: 'image/png', width: 300 })] })]);
    expect(hits.length).toBe(before);
  });

  it('makes a carousel of 2-5 images, into a board section', async () => {
    const a = await account();
    const board = sim.addBoard(a.id, { name: 'Trips', sections: ['Spring'] });
    const p = await publishOk(a, draft(a, 'three pictures', [image(jpeg), image(png, { type: 'image/png' }), image(jpeg)], { board_id: board.id, board_section_id: board.sections[0]!.id }));
    expect(pinsOf(a.id)).toEqual([expect.objectContaining({ id: p.platformPostId, mediaType: 'multiple_images', boardId: board.id, boardSectionId: board.sections[0]!.id })]);
    expect(pinsOf(a.id)[0]!.images).toHaveLength(3);
  });

  it('lists every board, page after page by bookmark', async () => {
    const a = await account();
    for (let i = 0; i < 260; i++) sim.addBoard(a.id, { name: `board ${i}` });
    const got = await listBoards(a.ctx);
    expect(got.ok && got.value.length).toBe(261);
    expect(log(a.id, 'boards/list').length).toBeGreaterThanOrEqual(3); // one at account(), two for 261 boards of 250 a page
  });
});

describe('validate()', () => {
  const v = (text: string, media: ('image' | 'video')[], options: Record<string, unknown> = { board_id: '123' }) =>
    pinterestConnector.validate({ text, options, media: media.map((kind) => ({ kind })) }).map((i) => i.code);

  it('needs a board, a file, and a description within 500 characters', () => {
    expect(v('fine', ['image'])).toEqual([]);
    expect(v('fine', ['image'], {})).toEqual(['OPTION_INVALID']);
    expect(v('no media', [])).toEqual(['MEDIA_REQUIRED']);
    expect(v('é'.repeat(500), ['image'])).toEqual([]);
    expect(pinterestConnector.validate({ text: '😀'.repeat(501), options: { board_id: '1' }, media: [{ kind: 'image' }] })).toEqual([expect.objectContaining({ code: 'TEXT_TOO_LONG', limit: 500, actual: 501 })]);
  });

  it('takes images or one video, at most 5 images, and a cover only for a video', () => {
    expect(v('x', ['image', 'video'])).toEqual(['MEDIA_MIXED_KINDS']);
    expect(v('x', ['video', 'video'])).toEqual(['TOO_MANY_MEDIA']);
    expect(v('x', Array(6).fill('image'))).toEqual(['TOO_MANY_MEDIA']);
    expect(v('x', Array(5).fill('image'))).toEqual([]);
    expect(v('x', ['image'], { board_id: '1', cover_image_url: 'https://example.com/c.jpg' })).toEqual(['OPTION_INVALID']);
    expect(v('x', ['video'], { board_id: '1', cover_image_url: 'https://example.com/c.jpg' })).toEqual([]);
  });

  it('the simulator refuses what Pinterest refuses: long fields, unknown fields, foreign boards, carousels over 5', async () => {
    const a = await account();
    const other = await account();
    const token = a.ctx.credentials.accessToken;
    const post = (body: unknown) => fetch(`${base}/v5/pins`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const src = { source_type: 'image_url', url: image(jpeg).url };
    const cases: [unknown, number, RegExp][] = [
      [{ board_id: a.board, title: 't'.repeat(101), media_source: src }, 400, /title is too long/],
      [{ board_id: a.board, description: 'd'.repeat(801), media_source: src }, 400, /description is too long/],
      [{ board_id: a.board, alt_text: 'a'.repeat(501), media_source: src }, 400, /alt_text is too long/],
      [{ board_id: a.board, media_source: src, caption: 'x' }, 400, /caption/],
      [{ media_source: src }, 400, /board_id is required/],
      [{ board_id: other.board, media_source: src }, 403, /board/],
      [{ board_id: '999', media_source: src }, 404, /Board not found/],
      [{ board_id: a.board, media_source: { source_type: 'image_url', url: `${filesUrl}/missing` } }, 400, /could not fetch the image \(HTTP 404\)/],
      [{ board_id: a.board, media_source: { source_type: 'multiple_image_urls', items: Array(6).fill({ url: image(jpeg).url }) } }, 400, /between 2 and 5/],
      [{ board_id: a.board, media_source: { source_type: 'image_base64', content_type: 'image/png', data: jpeg.toString('base64') } }, 400, /not the content_type/],
    ];
    for (const [body, status, message] of cases) {
      const r = await post(body);
      const b = (await r.json()) as { code: number; message: string };
      expect({ status: r.status, message: b.message }).toMatchObject({ status, message: expect.stringMatching(message) });
      expect(typeof b.code).toBe('number');
    }
    expect(pinsOf(a.id)).toEqual([]);
  });
});

describe('errors', () => {
  it('a 400 about the image is a media error; an unreadable image fails the publication without retry', async () => {
    const a = await account();
    const r = await pinterestConnector.publish(a.ctx, draft(a, 'not an image', [image(Buffer.from('hello, not a picture'))]));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', retryable: false, platformCode: '1' });
  });

  it('a 400 about the post is CONTENT_REJECTED; a board of someone else (403) too', async () => {
    const a = await account();
    const other = await account();
    const long = await pinterestConnector.publish(a.ctx, draft(a, 'x'.repeat(801), [image(jpeg)]));
    expect(!long.ok && long.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false });
    const foreign = await pinterestConnector.publish(a.ctx, draft(a, 'elsewhere', [image(jpeg)], { board_id: other.board }));
    expect(!foreign.ok && foreign.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', platformCode: '3' });
  });

  it('an expired access token (401) is refreshed once, the rotated tokens saved, and the pin made', async () => {
    const a = await account();
    const before = a.ctx.credentials.refreshToken;
    sim.core.addFault({ operation: 'pins/create', account: a.id, fault: { kind: 'expired_token' } });
    const p = await publishOk(a, draft(a, unique('after refresh'), [image(jpeg)]));
    expect(p.platformPostId).toBeTruthy();
    expect(a.refreshes()).toBe(1);
    expect(a.saved.at(-1)!.refreshToken).not.toBe(before);
    expect(a.saved.at(-1)!.refreshExpiresAt).toBeTruthy();
    expect(log(a.id, 'pins/create')).toEqual([401, 201]);
  });

  it('a token whose grant was revoked: the refresh is refused and the account is revoked', async () => {
    const a = await account();
    sim.oauth.revokeUser(a.id);
    const r = await pinterestConnector.publish(a.ctx, draft(a, 'revoked', [image(jpeg)]));
    expect(!r.ok && r.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false });
    expect(a.refreshes()).toBe(1);
    expect(pinsOf(a.id)).toEqual([]);
  });

  it('a missing scope (403) asks for a reconnect', async () => {
    const a = await account();
    const limited = await sim.oauth.issue(sim.oauth.users.get(a.id)!, ['boards:read', 'user_accounts:read']);
    a.ctx.credentials = { ...a.ctx.credentials, accessToken: limited['access_token'] as string };
    const r = await pinterestConnector.publish(a.ctx, draft(a, 'no scope', [image(jpeg)]));
    expect(!r.ok && r.error).toMatchObject({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', message: expect.stringMatching(/pins:write/) });
    expect(a.refreshes()).toBe(0);
  });

  it('429 with the rate-limit headers gives retryAfterMs; the simulator counts org_write per minute', async () => {
    const a = await account();
    sim.core.addFault({ operation: 'pins/create', account: a.id, fault: { kind: 'rate_limit', retry_after_seconds: 42 } });
    const r = await pinterestConnector.publish(a.ctx, draft(a, 'limited', [image(jpeg)]));
    expect(!r.ok && r.error).toMatchObject({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true, retryAfterMs: 42_000, platformCode: '29' });
    sim.config.writesPerMinute = 1;
    const b = await account();
    await publishOk(b, draft(b, 'first', [image(jpeg)]));
    const second = await pinterestConnector.publish(b.ctx, draft(b, 'second', [image(jpeg)]));
    expect(!second.ok && second.error).toMatchObject({ category: 'rate_limited', retryAfterMs: expect.any(Number) });
    expect(!second.ok && second.error.retryAfterMs!).toBeLessThanOrEqual(60_000);
  });

  it('5xx is transient and retryable; an unreachable API is not outcome-unknown', async () => {
    const a = await account();
    sim.core.addFault({ operation: 'pins/create', account: a.id, fault: { kind: 'status', status: 503 } });
    const r = await pinterestConnector.publish(a.ctx, draft(a, 'down', [image(jpeg)]));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true });
    const gone = await pinterestConnector.publish({ ...a.ctx, baseUrl: 'http://127.0.0.1:9/pinterest' }, draft(a, 'nowhere', [image(jpeg)]));
    expect(!gone.ok && gone.error).toMatchObject({ code: 'PLATFORM_UNREACHABLE', retryable: true });
    expect(!gone.ok && gone.error.outcomeUnknown).toBeFalsy();
  });

  it('a lost answer (accepted, then timed out) is outcome-unknown; findExisting finds the pin and nothing is pinned twice', async () => {
    const a = await account();
    const d = draft(a, unique('lost answer'), [image(jpeg, { alt: 'alt' })], { title: 'Lost', link: 'https://example.com/l' });
    sim.core.addFault({ operation: 'pins/create', account: a.id, fault: { kind: 'accept_then_timeout', ms: 2_000 } });
    const r = await pinterestConnector.publish({ ...a.ctx, signal: AbortSignal.timeout(700) }, d);
    expect(!r.ok && r.error).toMatchObject({ code: 'PLATFORM_TIMEOUT', outcomeUnknown: true });
    expect(d.checkpoint).toMatchObject({ since: expect.any(String) });
    expect(pinsOf(a.id)).toHaveLength(1);
    // An unrelated pin with other fields on the same board is not taken for it.
    await publishOk(a, draft(a, 'another pin', [image(jpeg)]));
    const found = await pinterestConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value).toEqual({ platformPostId: pinsOf(a.id)[0]!.id, url: `${base}/pin/${pinsOf(a.id)[0]!.id}/` });
    expect(pinsOf(a.id)).toHaveLength(2);
  });

  it('findExisting: null when nothing was sent or nothing matches; the checkpointed pin id without asking', async () => {
    const a = await account();
    const d = draft(a, unique('never sent'), [image(jpeg)]);
    expect(await pinterestConnector.findExisting!(a.ctx, d)).toEqual({ ok: true, value: null });
    d.checkpoint = { since: new Date().toISOString() };
    expect(await pinterestConnector.findExisting!(a.ctx, d)).toEqual({ ok: true, value: null });
    d.checkpoint = { pinId: '42' };
    const before = sim.core.log.length;
    expect(await pinterestConnector.findExisting!(a.ctx, d)).toEqual({ ok: true, value: { platformPostId: '42', url: `${base}/pin/42/` } });
    expect(sim.core.log.length).toBe(before);
  });
});
