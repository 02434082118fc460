// Facebook Pages on the simulator (platforms.md §3 "Publishing"): the Pages a person can act on
// (/me/accounts, with a Page token each), granted permissions, Page posts (text, link, photos attached
// with attached_media) and their 506 duplicate rule, photos pulled from `url` (published, or unpublished to
// attach later), photo Stories, and reading the Page's posts and stories back.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PAGE_READ, PAGE_WRITE, asPage, idParam, type SimDeps } from './access.js';
import { graphError, graphTime, invalidParam, params, select, versionNumber, type Node } from './graph.js';
import { pull } from './media.js';
import { pagesOf, seedUser, type PostKind, type SimPage, type SimPhoto, type SimPost } from './state.js';
import { settleVideos } from './facebook-video.js';

const MESSAGE_MAX = 63_206;
const ATTACHED_MAX = 30;

const STATUS_TYPE: Record<PostKind, string> = { status: 'mobile_status_update', link: 'shared_story', photo: 'added_photos', album: 'added_photos', video: 'added_video', reel: 'added_video', story: 'published_story' };

const attachment = (a: Partial<Record<'type' | 'media_type' | 'url' | 'title' | 'description', string>> & { target?: Node; subattachments?: Node }): Node => ({
  type: a.type, media_type: a.media_type, url: a.url, title: a.title, description: a.description, target: a.target, subattachments: a.subattachments,
});

function attachmentsOf(d: SimDeps, p: SimPost): Node {
  const photo = (id: string) => ({ id, url: d.state.photos.get(id)?.url });
  if (p.kind === 'photo') return { data: [attachment({ type: 'photo', media_type: 'photo', target: photo(p.photoIds![0]!) })] };
  if (p.kind === 'album') {
    return { data: [attachment({ type: 'album', media_type: 'album', target: { id: p.id, url: p.permalink }, subattachments: { data: p.photoIds!.map((id) => attachment({ type: 'photo', media_type: 'photo', target: photo(id) })) } })] };
  }
  if (p.kind === 'link') return { data: [attachment({ type: 'share', media_type: 'link', url: p.link, target: { id: undefined, url: p.link } })] };
  if (p.kind === 'video' || p.kind === 'reel') return { data: [attachment({ type: 'video_inline', media_type: 'video', target: { id: p.videoId, url: p.permalink } })] };
  return { data: [] };
}

export function postNode(d: SimDeps, p: SimPost): Node {
  const page = d.state.pages.get(p.pageId);
  return {
    id: p.id, message: p.message, created_time: graphTime(p.createdAt), updated_time: graphTime(p.createdAt), permalink_url: p.permalink,
    is_published: true, status_type: STATUS_TYPE[p.kind], from: { id: p.pageId, name: page?.name }, attachments: attachmentsOf(d, p),
    full_picture: p.photoIds?.[0] ? d.state.photos.get(p.photoIds[0])?.url : undefined, link: p.link, story: undefined,
  };
}

export function photoNode(ph: SimPhoto): Node {
  return { id: ph.id, created_time: graphTime(ph.createdAt), link: ph.url, published: ph.published, page_story_id: ph.postId, width: ph.media.width, height: ph.media.height, images: [{ source: ph.url, width: ph.media.width, height: ph.media.height }] };
}

export function pageNode(page: SimPage, accessToken?: string): Node {
  return { id: page.id, name: page.name, username: page.username, link: `https://www.facebook.com/${page.username}`, access_token: accessToken, tasks: undefined, instagram_business_account: undefined, category: 'Brand' };
}

/** Creates a Page post; its permalink is a page of the simulator. */
export function addPost(d: SimDeps, web: string, page: SimPage, p: Omit<SimPost, 'id' | 'permalink' | 'createdAt' | 'pageId'> & { createdAt?: number; permalink?: string }): SimPost {
  const num = d.state.nextId();
  const post: SimPost = { ...p, id: `${page.id}_${num}`, pageId: page.id, createdAt: p.createdAt ?? Date.now(), permalink: p.permalink ?? `${web}/web/${page.id}/posts/${num}` };
  d.state.posts.set(post.id, post);
  return post;
}

/** attached_media as JSON (`[{"media_fbid":"1"}]`) or as indexed fields (`attached_media[0]={"media_fbid":"1"}`). */
function attachedMedia(p: Record<string, string | undefined>): string[] | 'invalid' | undefined {
  const raw: string[] = [];
  if (p['attached_media'] !== undefined) {
    try {
      const v = JSON.parse(p['attached_media']) as unknown;
      if (!Array.isArray(v)) return 'invalid';
      raw.push(...v.map((x) => JSON.stringify(x)));
    } catch {
      return 'invalid';
    }
  }
  for (let i = 0; p[`attached_media[${i}]`] !== undefined; i++) raw.push(p[`attached_media[${i}]`]!);
  if (raw.length === 0) return undefined;
  const ids: string[] = [];
  for (const r of raw) {
    try {
      const id = (JSON.parse(r) as { media_fbid?: unknown }).media_fbid;
      if (typeof id !== 'string' && typeof id !== 'number') return 'invalid';
      ids.push(String(id));
    } catch {
      return 'invalid';
    }
  }
  return ids;
}

const isUrl = (v: string) => /^https?:\/\/[^\s/]+\.[^\s]*$|^https?:\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/\S*)?$/i.test(v);

/** Lists a Page's posts newest first, within since/until (epoch seconds or dates), at most `limit`. */
function listing<T>(items: T[], at: (t: T) => number, p: Record<string, string | undefined>): T[] {
  const instant = (v: string | undefined, fallback: number) => (v === undefined ? fallback : /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v));
  const [since, until] = [instant(p['since'], 0), instant(p['until'], Number.MAX_SAFE_INTEGER)];
  const limit = Math.min(100, Math.max(1, Number(p['limit'] ?? 25) || 25));
  return items.filter((t) => at(t) >= since && at(t) <= until).sort((a, b) => at(b) - at(a)).slice(0, limit);
}

export function facebookRoutes(app: FastifyInstance, d: SimDeps): void {
  const { state } = d;

  async function pullPhoto(reply: FastifyReply, url: string | undefined) {
    if (!url) return void graphError(reply, 400, 324, '(#324) Requires upload file');
    if (!isUrl(url)) return void invalidParam(reply, 'url should represent a valid URL');
    const got = await pull(url, 'image', d.config.photoMaxBytes, d.config.fetchTimeoutMs);
    if (got.ok) return got;
    if (got.failure === 'size') {
      return void graphError(reply, 400, 100, 'Your photos couldn\'t be uploaded. Photos should be less than 4 MB and saved as JPG, PNG, GIF, TIFF, HEIF or WebP files.', { error_subcode: 1366046, error_user_title: 'Can\'t Upload Photos', sim_reason: got.reason });
    }
    return void graphError(reply, 400, 324, `(#324) Missing or invalid image file`, { sim_reason: got.reason });
  }

  app.get('/:version/:id/accounts', { config: { operation: 'me.accounts' } }, async (req, reply) => {
    const auth = await d.tokens.authorize(req, reply);
    if (!auth) return reply;
    const id = idParam(req);
    if (auth.kind === 'page') return invalidParam(reply, 'Tried accessing nonexisting field (accounts) on node type (Page)');
    if (id !== 'me' && id !== auth.user.id) return invalidParam(reply, `Unsupported get request. Object with ID '${id}' does not exist`, { error_subcode: 33 });
    if (!auth.scopes.includes('pages_show_list')) return graphError(reply, 403, 10, '(#10) This endpoint requires the \'pages_show_list\' permission.');
    seedUser(state, auth.user);
    const p = params(req);
    const all = pagesOf(state, auth.user.id).sort((a, b) => (a.id < b.id ? -1 : 1));
    const start = p['after'] ? Number(Buffer.from(p['after'], 'base64url').toString()) || 0 : 0;
    const limit = Math.min(100, Math.max(1, Number(p['limit'] ?? 25) || 25));
    const slice = all.slice(start, start + limit);
    const data: Node[] = [];
    for (const page of slice) {
      const ig = page.igUserId ? state.igUsers.get(page.igUserId) : undefined;
      const node = { ...pageNode(page, await d.tokens.pageToken(auth, page.id)), tasks: page.roles.get(auth.user.id), instagram_business_account: ig && { id: ig.id, username: ig.username, name: ig.name } };
      const picked = select(reply, 'Page', node, p['fields'] ?? 'id,name,access_token,tasks');
      if (!picked) return reply;
      data.push(picked);
    }
    const cursor = (i: number) => Buffer.from(String(i)).toString('base64url');
    const paging: Node = { cursors: { before: cursor(start), after: cursor(start + slice.length) } };
    if (start + slice.length < all.length) {
      const q = new URLSearchParams({ ...(p['fields'] ? { fields: p['fields'] } : {}), limit: String(limit), after: cursor(start + slice.length) });
      paging['next'] = `${d.web(req)}/${(req.params as { version: string }).version}/${id}/accounts?${q}`;
    }
    return { data, paging };
  });

  app.get('/:version/:id/permissions', { config: { operation: 'me.permissions' } }, async (req, reply) => {
    const auth = await d.tokens.authorize(req, reply);
    if (!auth) return reply;
    if (auth.kind === 'page') return invalidParam(reply, 'Tried accessing nonexisting field (permissions) on node type (Page)');
    return { data: auth.scopes.map((permission) => ({ permission, status: 'granted' })) };
  });

  app.post('/:version/:id/feed', { config: { operation: 'page.feed' } }, async (req, reply) => {
    const a = await asPage(d, req, reply, PAGE_WRITE, true);
    if (!a) return reply;
    const p = params(req);
    const message = p['message'];
    const link = p['link'];
    const media = attachedMedia(p);
    if (media === 'invalid') return invalidParam(reply, 'Param attached_media must be an array of objects with a media_fbid');
    if (!message && !link && !media) return invalidParam(reply, 'Missing message or attachment');
    if (message && [...message].length > MESSAGE_MAX) return invalidParam(reply, `Param message must be at most ${MESSAGE_MAX} characters long`);
    if (link && !isUrl(link)) return invalidParam(reply, 'Param link must be a valid URL');
    if (link && media) return invalidParam(reply, 'Param link cannot be used together with attached_media');
    if (p['published'] === 'false' || p['published'] === '0') return invalidParam(reply, 'Unpublished and scheduled posts are not simulated; Crier schedules posts itself');
    if (media) {
      if (media.length > ATTACHED_MAX) return invalidParam(reply, `At most ${ATTACHED_MAX} photos can be attached to a post`);
      if (new Set(media).size !== media.length) return invalidParam(reply, 'The same photo is attached twice');
      for (const id of media) {
        const ph = state.photos.get(id);
        if (!ph || ph.pageId !== a.page.id) return invalidParam(reply, `Invalid media_fbid ${id}: no such photo on this Page`);
        if (ph.published || ph.postId) return invalidParam(reply, `Photo ${id} is already published; attach only photos uploaded with published=false`, { error_subcode: 1366051 });
      }
    } else {
      // Facebook refuses a status that repeats the Page's latest one (#506).
      const latest = [...state.posts.values()].filter((x) => x.pageId === a.page.id && x.kind !== 'story').sort((x, y) => y.createdAt - x.createdAt)[0];
      if (latest && Date.now() - latest.createdAt < d.config.duplicateWindowSec * 1000 && (latest.kind === 'status' || latest.kind === 'link') && (latest.message ?? '') === (message ?? '') && (latest.link ?? '') === (link ?? '')) {
        return graphError(reply, 400, 506, '(#506) Duplicate status message');
      }
    }
    const kind: PostKind = media ? (media.length > 1 ? 'album' : 'photo') : link ? 'link' : 'status';
    const post = addPost(d, d.web(req), a.page, { kind, message, link, photoIds: media });
    for (const id of media ?? []) state.photos.get(id)!.postId = post.id;
    return { id: post.id };
  });

  const listPosts = (edge: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const a = await asPage(d, req, reply, PAGE_READ, false);
    if (!a) return reply;
    settleVideos(d, a.page.id);
    const p = params(req);
    // Unknown fields are refused even when there is nothing to list.
    if (!select(reply, 'Post', postNode(d, { id: '', pageId: a.page.id, kind: 'status', createdAt: 0, permalink: '' }), p['fields'])) return reply;
    const posts = listing([...state.posts.values()].filter((x) => x.pageId === a.page.id && x.kind !== 'story'), (x) => x.createdAt, p);
    const data: Node[] = [];
    for (const x of posts) {
      const picked = select(reply, edge === 'feed' ? 'Post' : 'PagePost', postNode(d, x), p['fields']);
      if (!picked) return reply;
      data.push(picked);
    }
    return { data, paging: { cursors: { before: posts[0]?.id ?? '', after: posts.at(-1)?.id ?? '' } } };
  };
  app.get('/:version/:id/feed', { config: { operation: 'page.feed.list' } }, listPosts('feed'));
  app.get('/:version/:id/published_posts', { config: { operation: 'page.published_posts' } }, listPosts('published_posts'));

  app.post('/:version/:id/photos', { config: { operation: 'page.photos' } }, async (req, reply) => {
    const a = await asPage(d, req, reply, PAGE_WRITE, true);
    if (!a) return reply;
    const p = params(req);
    if (p['source'] !== undefined || /multipart/i.test(String(req.headers['content-type']))) {
      return invalidParam(reply, 'The simulator takes photos by url only (Meta fetches them); multipart source uploads are not simulated');
    }
    const published = !(p['published'] === 'false' || p['published'] === '0');
    const got = await pullPhoto(reply, p['url']);
    if (!got) return reply;
    const ph: SimPhoto = { id: state.nextId(), pageId: a.page.id, url: p['url']!, published, media: { mimeType: got.mimeType, size: got.size, width: got.width, height: got.height }, createdAt: Date.now() };
    state.photos.set(ph.id, ph);
    if (!published) return { id: ph.id };
    const post = addPost(d, d.web(req), a.page, { kind: 'photo', message: p['message'] ?? p['caption'], photoIds: [ph.id] });
    ph.postId = post.id;
    return { id: ph.id, post_id: post.id };
  });

  app.post('/:version/:id/photo_stories', { config: { operation: 'page.photo_stories' } }, async (req, reply) => {
    const a = await asPage(d, req, reply, PAGE_WRITE, true);
    if (!a) return reply;
    const photoId = params(req)['photo_id'];
    if (!photoId) return invalidParam(reply, 'The parameter photo_id is required');
    const ph = state.photos.get(photoId);
    if (!ph || ph.pageId !== a.page.id) return invalidParam(reply, `Invalid photo_id ${photoId}: no such photo on this Page`);
    if (ph.published || ph.postId) return invalidParam(reply, `Photo ${photoId} is already used; upload it with published=false for a story`);
    const post = addPost(d, d.web(req), a.page, { kind: 'story', photoIds: [ph.id] });
    ph.postId = post.id;
    return { success: true, post_id: post.id };
  });

  // What a sandbox post's permalink shows.
  app.get('/web/:pageId/posts/:num', async (req, reply) => {
    const { pageId, num } = req.params as { pageId: string; num: string };
    const post = state.posts.get(`${pageId}_${num}`);
    if (!post) return reply.code(404).type('text/plain').send('Post not found on the Facebook sandbox');
    return { sandbox: 'facebook', page: state.pages.get(pageId)?.name, id: post.id, kind: post.kind, message: post.message ?? '', link: post.link ?? null, created_time: graphTime(post.createdAt) };
  });
}

/** GET /{page-id}/stories: the Page's stories of the last 24 hours (the path is shared with Instagram, see simulator.ts). */
export function pageStories(d: SimDeps) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const a = await asPage(d, req, reply, PAGE_READ, false);
    if (!a) return reply;
    const p = params(req);
    const stories = listing([...d.state.posts.values()].filter((x) => x.pageId === a.page.id && x.kind === 'story' && Date.now() - x.createdAt < 86_400_000), (x) => x.createdAt, p);
    const data: Node[] = [];
    for (const s of stories) {
      const node = { post_id: s.id, status: 'PUBLISHED', creation_time: String(Math.floor(s.createdAt / 1000)), media_type: s.videoId ? 'video' : 'photo', media_id: s.videoId ?? s.photoIds?.[0], url: s.permalink };
      const picked = select(reply, 'Stories', node, p['fields'] ?? 'post_id,status,creation_time,media_type,media_id,url');
      if (!picked) return reply;
      data.push(picked);
    }
    return { data };
  };
}


/** Graph versions: one newer than the newest is unknown; older ones are served as the oldest (Graph upgrades them). */
export function versionCheck(d: SimDeps) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const v = (req.params as { version?: string } | undefined)?.version;
    if (v === undefined) return;
    const n = versionNumber(v);
    if (n === undefined || n > d.config.newestVersion) {
      return graphError(reply, 400, 2500, `Unknown path components: /${v}`);
    }
  };
}
