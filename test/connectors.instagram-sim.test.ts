// What the Graph simulator enforces on Instagram's edges, called directly over HTTP as a client that breaks
// the rules would: carousel rules (2–10 children, only FINISHED carousel items of the same account, each used
// once), publishing only a FINISHED container that is not a carousel item, caption and collaborator limits,
// the publishing-limit answer, and permissions per edge.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { freshConfig } from '../src/sandbox/meta/graph.js';
import { makeMetaFixtures, startFileServer, type FileServer, type MetaFixtures } from './support/meta.js';

let sandbox: SandboxServer;
let base: string;
let files: FileServer;
let fx: MetaFixtures;

beforeAll(async () => {
  [sandbox, files, fx] = await Promise.all([startSandboxServer(), startFileServer(), makeMetaFixtures()]);
  base = `${sandbox.url}/instagram/v24.0`;
});
afterAll(async () => {
  await sandbox?.close();
  await files?.close();
});
beforeEach(() => Object.assign(sandbox.meta.config, freshConfig({ processingMs: { video: 100, reel: 100, igVideo: 2_000 } })));

type Acct = { ig: string; token: string };

async function acct(scopes?: string[]): Promise<Acct> {
  const res = await fetch(`${sandbox.url}/instagram/_sim/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `s${Math.random().toString(36).slice(2, 10)}`, scopes }) });
  const b = (await res.json()) as { ig_user_id: string; page_access_token: string };
  return { ig: b.ig_user_id, token: b.page_access_token };
}

/** A Graph call; returns the status and the parsed body. */
async function call(a: Acct, method: 'GET' | 'POST', path: string, params: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const q = new URLSearchParams(params).toString();
  const res = method === 'GET'
    ? await fetch(`${base}${path}?${q}`, { headers: { authorization: `Bearer ${a.token}` } })
    : await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/x-www-form-urlencoded' }, body: q });
  return { status: res.status, body: await res.json() };
}

const container = async (a: Acct, params: Record<string, string>) => {
  const r = await call(a, 'POST', `/${a.ig}/media`, params);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.id as string;
};
const image = () => files.serve(fx.jpeg, 'image/jpeg');
const error = (r: { body: any }) => [r.body.error?.code, r.body.error?.error_subcode];

describe('the Instagram edges of the Graph simulator', () => {
  it('holds carousels to 2–10 FINISHED carousel items of the same account, each used once', async () => {
    const a = await acct();
    const b = await acct();
    const items = [await container(a, { image_url: image(), is_carousel_item: 'true' }), await container(a, { image_url: image(), is_carousel_item: 'true' })];
    const one = await call(a, 'POST', `/${a.ig}/media`, { media_type: 'CAROUSEL', children: items[0]! });
    expect(error(one)).toEqual([100, 2207028]);
    const eleven = await call(a, 'POST', `/${a.ig}/media`, { media_type: 'CAROUSEL', children: Array(11).fill(items[0]).join(',') });
    expect(error(eleven)).toEqual([100, 2207028]);
    const plain = await container(a, { image_url: image() });
    expect((await call(a, 'POST', `/${a.ig}/media`, { media_type: 'CAROUSEL', children: `${items[0]},${plain}` })).body.error.message).toMatch(/is_carousel_item/);
    const foreign = await container(b, { image_url: image(), is_carousel_item: 'true' });
    expect(error(await call(a, 'POST', `/${a.ig}/media`, { media_type: 'CAROUSEL', children: `${items[0]},${foreign}` }))).toEqual([100, 33]);
    const video = await container(a, { media_type: 'VIDEO', video_url: files.serve(fx.mp4, 'video/mp4'), is_carousel_item: 'true' });
    expect(error(await call(a, 'POST', `/${a.ig}/media`, { media_type: 'CAROUSEL', children: `${items[0]},${video}` }))).toEqual([9007, 2207027]);
    const carousel = await container(a, { media_type: 'CAROUSEL', children: items.join(','), caption: 'ok' });
    expect((await call(a, 'POST', `/${a.ig}/media`, { media_type: 'CAROUSEL', children: items.join(',') })).body.error.message).toMatch(/already in carousel/);
    expect((await call(a, 'POST', `/${a.ig}/media_publish`, { creation_id: items[0]! })).body.error.message).toMatch(/carousel item cannot be published/);
    expect((await call(a, 'POST', `/${a.ig}/media_publish`, { creation_id: carousel })).status).toBe(200);
    expect(await call(a, 'GET', `/${carousel}`, { fields: 'status_code' })).toMatchObject({ body: { status_code: 'PUBLISHED' } });
  });

  it('publishes only FINISHED containers, and moves a video container from IN_PROGRESS to FINISHED over time', async () => {
    const a = await acct();
    const reel = await container(a, { media_type: 'REELS', video_url: files.serve(fx.mp4, 'video/mp4'), caption: 'a reel' });
    expect((await call(a, 'GET', `/${reel}`, { fields: 'status_code,status' })).body).toMatchObject({ status_code: 'IN_PROGRESS' });
    expect(error(await call(a, 'POST', `/${a.ig}/media_publish`, { creation_id: reel }))).toEqual([9007, 2207027]);
    sandbox.meta.config.processingMs.igVideo = 0;
    expect((await call(a, 'GET', `/${reel}`, { fields: 'status_code' })).body.status_code).toBe('FINISHED');
    expect((await call(a, 'POST', `/${a.ig}/media_publish`, { creation_id: reel })).status).toBe(200);
    expect((await call(a, 'POST', `/${a.ig}/media_publish`, { creation_id: reel })).body.error.message).toMatch(/already published/);
    const stale = await container(a, { image_url: image() });
    sandbox.meta.containers.get(stale)!.createdAt -= 86_401_000;
    expect((await call(a, 'GET', `/${stale}`, { fields: 'status_code' })).body.status_code).toBe('EXPIRED');
    expect(error(await call(a, 'POST', `/${a.ig}/media_publish`, { creation_id: stale }))).toEqual([-2, 2207020]);
  });

  it('refuses captions, collaborators and kinds Instagram refuses, and reports the publishing limit', async () => {
    const a = await acct();
    expect(error(await call(a, 'POST', `/${a.ig}/media`, { image_url: image(), caption: 'x'.repeat(2_201) }))).toEqual([36004, 2207010]);
    expect(error(await call(a, 'POST', `/${a.ig}/media`, { image_url: image(), caption: Array.from({ length: 21 }, (_, i) => `@u${i}`).join(' ') }))).toEqual([100, 2207040]);
    expect((await call(a, 'POST', `/${a.ig}/media`, { image_url: image(), collaborators: '["a","b","c","d"]' })).body.error.message).toMatch(/At most 3/);
    expect((await call(a, 'POST', `/${a.ig}/media`, { media_type: 'STORIES', image_url: image(), collaborators: '["a"]' })).body.error.message).toMatch(/feed posts, reels and carousels/);
    expect(error(await call(a, 'POST', `/${a.ig}/media`, { media_type: 'VIDEO', video_url: files.serve(fx.mp4, 'video/mp4') }))).toEqual([100, 2207023]);
    expect((await call(a, 'POST', `/${a.ig}/media`, { media_type: 'REELS', video_url: files.serve(fx.mp4, 'video/mp4'), upload_type: 'resumable' })).body.error.message).toMatch(/not simulated/);
    sandbox.meta.config.igPublishQuota = 7;
    const limit = await call(a, 'GET', `/${a.ig}/content_publishing_limit`, { fields: 'quota_usage,config' });
    expect(limit.body).toEqual({ data: [{ quota_usage: 0, config: { quota_total: 7, quota_duration: 86_400 } }] });
  });

  it('asks each edge for its permissions, and hides other accounts\' objects', async () => {
    const reader = await acct(['instagram_basic', 'pages_show_list', 'pages_read_engagement']);
    const denied = await call(reader, 'POST', `/${reader.ig}/media`, { image_url: image() });
    expect([denied.status, denied.body.error.code]).toEqual([403, 10]);
    expect((await call(reader, 'GET', `/${reader.ig}/media`, { fields: 'id,caption' })).status).toBe(200);
    const a = await acct();
    const b = await acct();
    const mine = await container(a, { image_url: image() });
    expect(error(await call(b, 'GET', `/${mine}`, { fields: 'status_code' }))).toEqual([100, 33]);
    expect(error(await call(b, 'POST', `/${a.ig}/media_publish`, { creation_id: mine }))).toEqual([100, 33]);
    expect(error(await call(a, 'GET', `/${a.ig}/media`, { fields: 'id,colour' }))).toEqual([100, undefined]);
  });
});
