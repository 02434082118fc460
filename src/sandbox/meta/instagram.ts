// Instagram content publishing on the simulator (platforms.md §4): containers (images, Reels, Stories,
// carousel items and carousels) made from URLs the simulator really fetches, whose status moves over time
// (IN_PROGRESS → FINISHED, or ERROR, or EXPIRED after 24 h), media_publish within the rolling 24-hour
// publishing limit, the account's media and stories read back, comments and collaborators.
// As on Instagram, an image is fetched while its container is created, so a bad image is refused right
// there (9004/2207052, 36001/2207005, 36000/2207004, 36003/2207009); a video is fetched afterwards and a
// bad one turns the container to ERROR ("Error: Media upload has failed with error code 2207026").
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { IG_COMMENT, IG_PUBLISH, IG_READ, actsFor, asIg, idParam, type SimDeps } from './access.js';
import { graphError, graphTime, invalidParam, noSuchObject, params, select, type Node } from './graph.js';
import { pull, type Pulled } from './media.js';
import { recentIgPublishes, type IgMediaType, type SimContainer, type SimIgMedia } from './state.js';

const CAPTION_MAX = 2_200;
const HASHTAGS_MAX = 30;
const MENTIONS_MAX = 20;
const COLLABORATORS_MAX = 3;
const CAROUSEL = { min: 2, max: 10 };
const ASPECT = { min: 4 / 5, max: 1.91 };
const DOWNLOAD_FAILED = 2207052;
const VIDEO_FORMAT = 2207026;

export function containerStatus(d: SimDeps, c: SimContainer): { status_code: string; status: string } {
  if (c.publishedId) return { status_code: 'PUBLISHED', status: 'Published: Media has been published.' };
  if (Date.now() - c.createdAt > d.config.containerTtlSec * 1000) return { status_code: 'EXPIRED', status: 'Expired: Media container has expired.' };
  if (c.errorCode) return { status_code: 'ERROR', status: `Error: Media upload has failed with error code ${c.errorCode}` };
  if (c.fetchedAt !== undefined && Date.now() >= c.fetchedAt + (c.fileKind === 'video' ? d.config.processingMs.igVideo : 0)) return { status_code: 'FINISHED', status: 'Finished: Media has been uploaded and it is ready to be published.' };
  return { status_code: 'IN_PROGRESS', status: 'In Progress: Media is still being processed.' };
}

export function mediaNode(d: SimDeps, m: SimIgMedia): Node {
  const ig = d.state.igUsers.get(m.igUserId);
  const comments = [...d.state.comments.values()].filter((c) => c.targetId === m.id).length;
  return {
    id: m.id, caption: m.caption, media_type: m.mediaType, media_product_type: m.productType, media_url: m.mediaUrl, permalink: m.permalink,
    shortcode: m.shortcode, timestamp: graphTime(m.timestamp), username: ig?.username, owner: { id: m.igUserId }, alt_text: m.altText,
    children: m.children && { data: m.children.map((c) => ({ id: c.id, media_type: c.mediaType, media_url: c.mediaUrl })) },
    comments_count: comments, like_count: 0, is_comment_enabled: m.productType !== 'STORY', thumbnail_url: undefined,
  };
}

/** "#tag" and "@name" as Instagram counts them in a caption. */
const count = (text: string, re: RegExp) => text.match(re)?.length ?? 0;

function captionProblem(reply: FastifyReply, caption: string): boolean {
  if ([...caption].length > CAPTION_MAX) return (graphError(reply, 400, 36004, `The caption is longer than ${CAPTION_MAX} characters.`, { error_subcode: 2207010 }), true);
  if (count(caption, /(^|[^\w&])#[\p{L}\p{N}_]+/gu) > HASHTAGS_MAX) return (invalidParam(reply, `A caption may have at most ${HASHTAGS_MAX} hashtags.`), true);
  if (count(caption, /(^|[^\w])@[A-Za-z0-9._]+/g) > MENTIONS_MAX) return (graphError(reply, 400, 100, `A caption may tag at most ${MENTIONS_MAX} accounts.`, { error_subcode: 2207040 }), true);
  return false;
}

/** collaborators as a JSON array (`["a","b"]`) or comma-separated. */
function collaboratorsOf(v: string | undefined): string[] | 'invalid' | undefined {
  if (v === undefined) return undefined;
  let list: unknown;
  try {
    list = JSON.parse(v);
  } catch {
    list = v.split(',').map((s) => s.trim()).filter(Boolean);
  }
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' || !/^[A-Za-z0-9._]{1,30}$/.test(x))) return 'invalid';
  return list as string[];
}

function imageRefusal(reply: FastifyReply, got: Exclude<Pulled, { ok: true }> | { ok: false; failure: 'jpeg' | 'aspect'; reason: string }) {
  switch (got.failure) {
    case 'download':
      return graphError(reply, 400, 9004, 'The media could not be fetched from this uri.', { error_subcode: DOWNLOAD_FAILED, error_user_title: 'Media download has failed.', sim_reason: got.reason });
    case 'size':
      return graphError(reply, 400, 36000, 'The image size is too large.', { error_subcode: 2207004, sim_reason: got.reason });
    case 'aspect':
      return graphError(reply, 400, 36003, 'The aspect ratio is not supported.', { error_subcode: 2207009, error_user_msg: 'The submitted image with aspect ratio is not in the allowed range (4:5 to 1.91:1).', sim_reason: got.reason });
    default:
      return graphError(reply, 400, 36001, 'The image format is not supported.', { error_subcode: 2207005, sim_reason: got.reason });
  }
}

/** GET /{ig-user-id}/stories: the account's stories of the last 24 hours (the path is shared with Pages, see simulator.ts). */
export const igStories = (d: SimDeps) => listMedia(d, true);

function listMedia(d: SimDeps, stories: boolean) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const a = await asIg(d, req, reply, IG_READ);
    if (!a) return reply;
    const p = params(req);
    // Unknown fields are refused even when there is nothing to list.
    if (!select(reply, 'IGMedia', mediaNode(d, { id: '', igUserId: '', mediaType: 'IMAGE', productType: 'FEED', timestamp: 0, shortcode: '', permalink: '', containerId: '' }), p['fields'])) return reply;
    const instant = (v: string | undefined, fallback: number) => (v === undefined ? fallback : /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v));
    const [since, until] = [instant(p['since'], 0), instant(p['until'], Number.MAX_SAFE_INTEGER)];
    const limit = Math.min(100, Math.max(1, Number(p['limit'] ?? 25) || 25));
    const found = [...d.state.igMedia.values()]
      .filter((m) => m.igUserId === a.ig.id && (m.productType === 'STORY') === stories && (!stories || Date.now() - m.timestamp < 86_400_000))
      .filter((m) => m.timestamp >= since && m.timestamp <= until)
      .sort((x, y) => y.timestamp - x.timestamp)
      .slice(0, limit);
    const data: Node[] = [];
    for (const m of found) {
      const picked = select(reply, 'IGMedia', mediaNode(d, m), p['fields']);
      if (!picked) return reply;
      data.push(picked);
    }
    return { data, paging: { cursors: { before: found[0]?.id ?? '', after: found.at(-1)?.id ?? '' } } };
  };
}

export function instagramRoutes(app: FastifyInstance, d: SimDeps): void {
  const { state, config } = d;

  async function pullVideo(c: SimContainer) {
    const got = await pull(c.url!, 'video', config.igVideoMaxBytes, config.fetchTimeoutMs);
    c.fetchedAt = Date.now();
    if (!got.ok) return void Object.assign(c, { errorCode: got.failure === 'download' ? DOWNLOAD_FAILED : VIDEO_FORMAT, reason: got.reason });
    c.media = { mimeType: got.mimeType, size: got.size, durationMs: got.durationMs };
    const ms = got.durationMs;
    const [min, max] = c.mediaType === 'REELS' ? [config.igReelMinMs, config.igReelMaxMs] : [0, config.igStoryVideoMaxMs];
    if (ms !== undefined && (ms < min || ms > max)) Object.assign(c, { errorCode: VIDEO_FORMAT, reason: `the video is ${ms / 1000} s; ${c.mediaType} videos must be ${min / 1000}–${max / 1000} s` });
  }

  app.post('/:version/:id/media', { config: { operation: 'ig.media' } }, async (req, reply) => {
    const a = await asIg(d, req, reply, IG_PUBLISH);
    if (!a) return reply;
    const p = params(req);
    if (p['upload_type'] === 'resumable') return invalidParam(reply, 'Resumable uploads are not simulated; give image_url or video_url (Instagram fetches them)');
    const item = p['is_carousel_item'] === 'true';
    const type = (p['media_type'] ?? (p['image_url'] ? 'IMAGE' : '')) as IgMediaType | '';
    if (!['IMAGE', 'VIDEO', 'REELS', 'STORIES', 'CAROUSEL'].includes(type)) return graphError(reply, 400, 100, 'The media type is not supported.', { error_subcode: 2207023 });
    if (type === 'VIDEO' && !item) return invalidParam(reply, 'The VIDEO media type is no longer supported for feed posts; use REELS', { error_subcode: 2207023 });
    if (item && (type === 'CAROUSEL' || type === 'REELS' || type === 'STORIES')) return invalidParam(reply, `A carousel item must be an image or a VIDEO, not ${type}`);
    const fileKind: 'image' | 'video' | undefined = type === 'CAROUSEL' ? undefined : type === 'IMAGE' ? 'image' : type === 'STORIES' ? (p['video_url'] ? 'video' : 'image') : 'video';
    const url = fileKind === 'image' ? p['image_url'] : fileKind === 'video' ? p['video_url'] : undefined;
    if (fileKind && !url) return invalidParam(reply, `The parameter ${fileKind}_url is required`);
    if (type === 'STORIES' && p['image_url'] && p['video_url']) return invalidParam(reply, 'A story takes image_url or video_url, not both');
    const caption = item || type === 'STORIES' ? undefined : p['caption'];
    if (caption !== undefined && captionProblem(reply, caption)) return reply;
    const collaborators = collaboratorsOf(p['collaborators']);
    if (collaborators === 'invalid') return invalidParam(reply, 'Param collaborators must be a list of Instagram usernames');
    if (collaborators && (item || type === 'STORIES')) return invalidParam(reply, 'Collaborators can be added to feed posts, reels and carousels only');
    if (collaborators && collaborators.length > COLLABORATORS_MAX) return invalidParam(reply, `At most ${COLLABORATORS_MAX} collaborators can be invited`);
    if (collaborators?.some((u) => u.toLowerCase() === a.ig.username.toLowerCase())) return invalidParam(reply, 'The account cannot invite itself as a collaborator');
    let children: string[] | undefined;
    if (type === 'CAROUSEL') {
      children = (p['children'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (children.length < CAROUSEL.min || children.length > CAROUSEL.max) return graphError(reply, 400, 100, `A carousel takes ${CAROUSEL.min} to ${CAROUSEL.max} children.`, { error_subcode: 2207028 });
      if (new Set(children).size !== children.length) return invalidParam(reply, 'The same child appears twice');
      for (const id of children) {
        const child = state.containers.get(id);
        if (!child || child.igUserId !== a.ig.id) return noSuchObject(reply, id);
        if (!child.isCarouselItem) return invalidParam(reply, `Container ${id} was not created with is_carousel_item=true`);
        if (child.usedBy) return invalidParam(reply, `Container ${id} is already in carousel ${child.usedBy}`);
        const st = containerStatus(d, child).status_code;
        if (st === 'IN_PROGRESS') return graphError(reply, 400, 9007, 'Media ID is not available', { error_subcode: 2207027, error_user_msg: `Carousel item ${id} is not ready (IN_PROGRESS); wait until it is FINISHED` });
        if (st !== 'FINISHED') return invalidParam(reply, `Carousel item ${id} cannot be used (${st})`);
      }
    }
    const c: SimContainer = {
      id: state.nextId(), igUserId: a.ig.id, mediaType: type as IgMediaType, fileKind, isCarouselItem: item, url, caption, children, collaborators,
      altText: fileKind === 'image' ? p['alt_text'] : undefined, shareToFeed: type === 'REELS' ? p['share_to_feed'] !== 'false' : undefined, createdAt: Date.now(),
    };
    if (fileKind === 'image') {
      const got = await pull(url!, 'image', config.igImageMaxBytes, config.fetchTimeoutMs);
      if (!got.ok) return imageRefusal(reply, got);
      if (got.mimeType !== 'image/jpeg') return imageRefusal(reply, { ok: false, failure: 'jpeg', reason: `Instagram takes JPEG images only, not ${got.mimeType}` });
      const ratio = got.width && got.height ? got.width / got.height : undefined;
      if (type !== 'STORIES' && ratio !== undefined && (ratio < ASPECT.min - 0.005 || ratio > ASPECT.max + 0.005)) {
        return imageRefusal(reply, { ok: false, failure: 'aspect', reason: `${got.width}×${got.height} is ${ratio.toFixed(3)}:1` });
      }
      c.media = { mimeType: got.mimeType, size: got.size, width: got.width, height: got.height };
      c.fetchedAt = Date.now();
    } else if (fileKind === 'video') {
      void pullVideo(c);
    } else c.fetchedAt = Date.now();
    state.containers.set(c.id, c);
    for (const id of children ?? []) state.containers.get(id)!.usedBy = c.id;
    return { id: c.id };
  });

  app.post('/:version/:id/media_publish', { config: { operation: 'ig.media_publish' } }, async (req, reply) => {
    const a = await asIg(d, req, reply, IG_PUBLISH);
    if (!a) return reply;
    const creation = params(req)['creation_id'];
    if (!creation) return invalidParam(reply, 'The parameter creation_id is required');
    const c = state.containers.get(creation);
    if (!c || c.igUserId !== a.ig.id) return noSuchObject(reply, creation);
    if (c.isCarouselItem) return invalidParam(reply, 'A carousel item cannot be published on its own; publish the CAROUSEL container');
    const st = containerStatus(d, c).status_code;
    if (st === 'IN_PROGRESS') return graphError(reply, 400, 9007, 'Media ID is not available', { error_subcode: 2207027, error_user_msg: 'The media is not ready for publishing, please wait for a moment' });
    if (st === 'EXPIRED') return graphError(reply, 400, -2, 'The media has expired', { error_subcode: 2207020 });
    if (st === 'PUBLISHED') return invalidParam(reply, `Container ${c.id} was already published`);
    if (st === 'ERROR') return graphError(reply, 400, -1, `The media cannot be published: ${containerStatus(d, c).status}`, { error_subcode: c.errorCode });
    if (recentIgPublishes(state, a.ig.id, Date.now()) >= config.igPublishQuota) {
      return graphError(reply, 400, 9, 'Application request limit reached', { error_subcode: 2207042, error_user_title: 'Maximum posts reached', error_user_msg: 'You reached maximum number of posts that is allowed to be published by Content Publishing API.' });
    }
    const id = state.nextId();
    const shortcode = randomBytes(8).toString('base64url').replace(/[-_]/g, 'x').slice(0, 11);
    const productType = c.mediaType === 'STORIES' ? 'STORY' : c.mediaType === 'REELS' ? 'REELS' : 'FEED';
    const path = productType === 'STORY' ? `stories/${a.ig.username}/${id}` : productType === 'REELS' ? `reel/${shortcode}` : `p/${shortcode}`;
    const children = c.children?.map((childId) => {
      const child = state.containers.get(childId)!;
      child.publishedId = state.nextId();
      return { id: child.publishedId, mediaType: child.fileKind === 'video' ? ('VIDEO' as const) : ('IMAGE' as const), mediaUrl: child.url };
    });
    const m: SimIgMedia = {
      id, igUserId: a.ig.id, mediaType: c.mediaType === 'CAROUSEL' ? 'CAROUSEL_ALBUM' : c.fileKind === 'video' ? 'VIDEO' : 'IMAGE', productType,
      caption: c.caption, altText: c.altText, timestamp: Date.now(), shortcode, permalink: `${d.web(req)}/web/ig/${path}/`, containerId: c.id, mediaUrl: c.url, children, collaborators: c.collaborators,
    };
    state.igMedia.set(id, m);
    c.publishedId = id;
    return { id };
  });

  app.get('/:version/:id/media', { config: { operation: 'ig.media.list' } }, listMedia(d, false));

  app.get('/:version/:id/content_publishing_limit', { config: { operation: 'ig.content_publishing_limit' } }, async (req, reply) => {
    const a = await asIg(d, req, reply, ['instagram_basic', 'instagram_content_publish']);
    if (!a) return reply;
    const usage = { quota_usage: recentIgPublishes(state, a.ig.id, Date.now()), config: { quota_total: config.igPublishQuota, quota_duration: 86_400 } };
    const data = select(reply, 'ContentPublishingLimit', usage, params(req)['fields'] ?? 'quota_usage');
    return data ? { data: [data] } : reply;
  });

  /** A media object this token may act on, with the permissions asked for. */
  async function asMedia(req: FastifyRequest, reply: FastifyReply, needed: string[]) {
    const auth = await d.tokens.authorize(req, reply);
    if (!auth) return undefined;
    const m = state.igMedia.get(idParam(req));
    const ig = m && state.igUsers.get(m.igUserId);
    const page = ig && state.pages.get(ig.pageId);
    if (!m || !ig || !page || !actsFor(auth, page)) return void noSuchObject(reply, idParam(req));
    const missing = needed.filter((s) => !auth.scopes.includes(s));
    if (missing.length > 0) return void graphError(reply, 403, 10, `(#10) This endpoint requires the ${missing.map((s) => `'${s}'`).join(' and ')} permission.`);
    return { m, ig };
  }

  app.post('/:version/:id/comments', { config: { operation: 'comments.create' } }, async (req, reply) => {
    const a = await asMedia(req, reply, IG_COMMENT);
    if (!a) return reply;
    const message = params(req)['message'];
    if (!message) return invalidParam(reply, 'The parameter message is required');
    if ([...message].length > CAPTION_MAX) return invalidParam(reply, `A comment may have at most ${CAPTION_MAX} characters`);
    if (a.m.productType === 'STORY') return invalidParam(reply, 'Stories cannot be commented on');
    const id = state.nextId();
    state.comments.set(id, { id, targetId: a.m.id, text: message, from: { id: a.ig.id, username: a.ig.username }, timestamp: Date.now() });
    return { id };
  });

  app.get('/:version/:id/comments', { config: { operation: 'comments.list' } }, async (req, reply) => {
    const a = await asMedia(req, reply, IG_READ);
    if (!a) return reply;
    const fields = params(req)['fields'] ?? 'id,text,timestamp';
    const data: Node[] = [];
    for (const c of [...state.comments.values()].filter((x) => x.targetId === a.m.id).sort((x, y) => x.timestamp - y.timestamp)) {
      const picked = select(reply, 'IGComment', { id: c.id, text: c.text, timestamp: graphTime(c.timestamp), username: c.from.username, from: c.from, like_count: 0, hidden: false }, fields);
      if (!picked) return reply;
      data.push(picked);
    }
    return { data };
  });

  app.get('/:version/:id/collaborators', { config: { operation: 'ig.collaborators' } }, async (req, reply) => {
    const a = await asMedia(req, reply, IG_READ);
    if (!a) return reply;
    return { data: (a.m.collaborators ?? []).map((username) => ({ id: undefined, username, invite_status: 'Pending' })) };
  });

  // What a sandbox permalink shows.
  app.get('/web/ig/*', async (req, reply) => {
    const path = (req.params as { '*': string })['*'].replace(/\/$/, '');
    const m = [...state.igMedia.values()].find((x) => x.permalink.endsWith(`/web/ig/${path}/`));
    if (!m) return reply.code(404).type('text/plain').send('Not found on the Instagram sandbox');
    return { sandbox: 'instagram', id: m.id, username: state.igUsers.get(m.igUserId)?.username, media_type: m.mediaType, media_product_type: m.productType, caption: m.caption ?? '', timestamp: graphTime(m.timestamp) };
  });
}
