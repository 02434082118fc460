// The simulator's subreddit, submit and listing routes (platforms.md §10 "Publishing"). POST /api/submit is
// form-encoded and answers HTTP 200 whatever happens: refusals are `json.errors` tuples [CODE, message,
// field], with Reddit's codes (SUBREDDIT_NOEXIST, SUBREDDIT_NOTALLOWED, NO_SELFS, NO_LINKS, NO_URL, BAD_URL,
// ALREADY_SUB, TOO_LONG, RATELIMIT with `json.ratelimit` seconds, SUBMIT_VALIDATION_*). Without
// `api_type=json` (or with a body that is not a form, which Reddit does not read) the answer is the legacy
// jQuery form. Codes marked (unconfirmed) are named after Reddit's pattern, not seen in its docs:
// NO_IMAGES, BAD_FLAIR_TEMPLATE_ID and the SUBMIT_VALIDATION_* variants other than FLAIR_REQUIRED.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SimGrant } from '../oauth.js';
import { httpError, type RedditSimState } from './simulator.js';
import { newPostId, type SimPost, type SimSubreddit } from './state.js';

type Tuple = [string, string, string | null];
const TITLE_MAX = 300;
const BODY_MAX = 40_000;

const chars = (s: string) => [...s].length;
const lower = (s: string) => s.toLowerCase();
const slug = (title: string) => lower(title).replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '').slice(0, 50) || '_';
const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function mayPost(s: SimSubreddit, userId: string): boolean {
  if (s.banned.has(userId)) return false;
  if (s.type === 'archived') return false;
  return s.type === 'public' || s.contributors.has(userId);
}

function requirementErrors(s: SimSubreddit, kind: string, title: string, text: string, url: string, flairId: string | undefined): Tuple[] {
  const r = s.requirements;
  const out: Tuple[] = [];
  const t = chars(title);
  if (r.title_text_min_length && t < r.title_text_min_length) out.push(['SUBMIT_VALIDATION_TITLE_TOO_SHORT', `Title must be at least ${r.title_text_min_length} characters`, 'title']);
  if (r.title_text_max_length && t > r.title_text_max_length) out.push(['SUBMIT_VALIDATION_TITLE_TOO_LONG', `Title must be at most ${r.title_text_max_length} characters`, 'title']);
  if (r.title_required_strings.length > 0 && !r.title_required_strings.some((w) => lower(title).includes(lower(w)))) {
    out.push(['SUBMIT_VALIDATION_TITLE_REQUIRED_STRING', `Title must contain one of: ${r.title_required_strings.join(', ')}`, 'title']);
  }
  const badTitle = r.title_blacklisted_strings.find((w) => lower(title).includes(lower(w)));
  if (badTitle) out.push(['SUBMIT_VALIDATION_TITLE_BLACKLISTED_STRING', `Title contains a forbidden word: ${badTitle}`, 'title']);
  if (r.is_flair_required && !flairId) out.push(['SUBMIT_VALIDATION_FLAIR_REQUIRED', 'Your post must contain post flair.', 'flair']);
  if (kind === 'self') {
    if (r.body_restriction_policy === 'required' && text.trim() === '') out.push(['SUBMIT_VALIDATION_BODY_REQUIRED', 'This community requires body text.', 'text']);
    if (r.body_restriction_policy === 'notAllowed' && text.trim() !== '') out.push(['SUBMIT_VALIDATION_BODY_NOT_ALLOWED', 'This community does not allow body text.', 'text']);
    if (text && r.body_text_min_length && chars(text) < r.body_text_min_length) out.push(['SUBMIT_VALIDATION_BODY_TOO_SHORT', `Body must be at least ${r.body_text_min_length} characters`, 'text']);
    if (r.body_text_max_length && chars(text) > r.body_text_max_length) out.push(['SUBMIT_VALIDATION_BODY_TOO_LONG', `Body must be at most ${r.body_text_max_length} characters`, 'text']);
    if (r.body_required_strings.length > 0 && !r.body_required_strings.some((w) => lower(text).includes(lower(w)))) out.push(['SUBMIT_VALIDATION_BODY_REQUIRED_STRING', `Body must contain one of: ${r.body_required_strings.join(', ')}`, 'text']);
    const badBody = r.body_blacklisted_strings.find((w) => lower(text).includes(lower(w)));
    if (badBody) out.push(['SUBMIT_VALIDATION_BODY_BLACKLISTED_STRING', `Body contains a forbidden word: ${badBody}`, 'text']);
  }
  if (kind === 'link') {
    let host = '';
    try {
      host = new URL(url).hostname.toLowerCase().replace(/^www\./, '');
    } catch {
      // BAD_URL is reported by the caller
    }
    const within = (list: string[]) => list.some((d) => host === lower(d) || host.endsWith(`.${lower(d)}`));
    if (r.link_restriction_policy === 'whitelist' && !within(r.domain_whitelist)) out.push(['SUBMIT_VALIDATION_LINK_WHITELIST', `Links must be to: ${r.domain_whitelist.join(', ')}`, 'url']);
    if (r.link_restriction_policy === 'blacklist' && within(r.domain_blacklist)) out.push(['SUBMIT_VALIDATION_LINK_BLACKLIST', `Links to ${host} are not allowed`, 'url']);
  }
  return out;
}

function linkData(p: SimPost, raw: boolean, origin: string) {
  const e = (s: string) => (raw ? s : escapeHtml(s));
  const permalink = `/r/${p.subreddit}/comments/${p.id}/${slug(p.title)}/`;
  return {
    kind: 't3',
    data: {
      id: p.id, name: `t3_${p.id}`, author: p.author, author_fullname: `t2_${p.authorId}`, subreddit: p.subreddit, subreddit_name_prefixed: `r/${p.subreddit}`,
      title: e(p.title), selftext: e(p.selftext), is_self: p.kind === 'self', post_hint: p.kind === 'image' ? 'image' : p.kind === 'link' ? 'link' : 'self',
      url: p.kind === 'self' ? `https://www.reddit.com${permalink}` : p.kind === 'image' ? `${origin}/i/${p.assetKey?.split('/').pop()}` : p.url,
      permalink, created_utc: p.createdUtc, over_18: p.nsfw, spoiler: p.spoiler, send_replies: p.sendReplies,
      link_flair_template_id: p.flairId ?? null, link_flair_text: p.flairText ?? null, score: 1, num_comments: 0,
    },
  };
}

export function postRoutes(app: FastifyInstance, state: RedditSimState): void {
  const lastPost = new Map<string, number>();

  const visibleTo = (s: SimSubreddit | undefined, userId: string): 'ok' | 'missing' | 'private' =>
    !s ? 'missing' : s.type === 'private' && !s.contributors.has(userId) ? 'private' : 'ok';

  async function subredditRead(req: FastifyRequest<{ Params: { sr: string } }>, reply: FastifyReply, scope: string): Promise<{ grant: SimGrant; s: SimSubreddit } | undefined> {
    const grant = await state.authenticate(req, reply, scope);
    if (!grant) return undefined;
    const s = state.subreddit(req.params.sr);
    const seen = visibleTo(s, grant.user.id);
    if (seen === 'missing') return void httpError(reply, 404);
    if (seen === 'private') return void httpError(reply, 403, { reason: 'private' });
    return { grant, s: s! };
  }

  app.get<{ Params: { sr: string } }>('/r/:sr/about', { config: { operation: 'subreddit.about' } }, async (req, reply) => {
    const got = await subredditRead(req, reply, 'read');
    if (!got) return reply;
    const { s, grant } = got;
    return {
      kind: 't5',
      data: {
        id: s.id, name: `t5_${s.id}`, display_name: s.name, display_name_prefixed: `r/${s.name}`, subreddit_type: s.type, submission_type: s.submissionType,
        allow_images: s.allowImages, allow_videos: false, allow_galleries: false, over18: s.over18,
        user_is_banned: s.banned.has(grant.user.id), user_is_contributor: s.contributors.has(grant.user.id), user_is_moderator: false,
        link_flair_enabled: s.flairs.length > 0, can_assign_link_flair: s.flairs.length > 0,
      },
    };
  });

  app.get<{ Params: { sr: string } }>('/api/v1/:sr/post_requirements', { config: { operation: 'subreddit.post_requirements' } }, async (req, reply) => {
    const got = await subredditRead(req, reply, 'read');
    return got ? got.s.requirements : reply;
  });

  app.get<{ Params: { sr: string } }>('/r/:sr/api/link_flair_v2', { config: { operation: 'subreddit.link_flair' } }, async (req, reply) => {
    const got = await subredditRead(req, reply, 'flair');
    return got ? got.s.flairs : reply;
  });

  app.post('/api/submit', { config: { operation: 'submit' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, 'submit');
    if (!grant) return reply;
    const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    const f = (isForm ? req.body ?? {} : {}) as Record<string, string | undefined>;
    if (f['api_type'] !== 'json') {
      return { jquery: [[0, 1, 'call', ['body']], [1, 2, 'attr', 'find'], [2, 3, 'call', ['.status']], [3, 4, 'attr', 'hide']], success: false };
    }
    const refuse = (errors: Tuple[], extra: Record<string, unknown> = {}) => ({ json: { ...extra, errors } });
    const s = f['sr'] ? state.subreddit(f['sr']) : undefined;
    if (!s) return refuse([['SUBREDDIT_NOEXIST', "that subreddit doesn't exist", 'sr']]);
    if (!mayPost(s, grant.user.id)) return refuse([['SUBREDDIT_NOTALLOWED', "you aren't allowed to post there.", 'sr']]);
    const kind = f['kind'] ?? '';
    if (!['self', 'link', 'image'].includes(kind)) return refuse([['INVALID_OPTION', 'that option is not valid', 'kind']]);
    const errors: Tuple[] = [];
    const title = f['title'] ?? '';
    if (title.trim() === '') errors.push(['SUBMIT_VALIDATION_TITLE_REQUIRED', 'Submission must have a title.', 'title']);
    else if (chars(title) > TITLE_MAX) errors.push(['TOO_LONG', `this is too long (max: ${TITLE_MAX})`, 'title']);
    if (kind === 'self' && s.submissionType === 'link') errors.push(['NO_SELFS', "This community doesn't allow text posts.", 'sr']);
    if (kind !== 'self' && s.submissionType === 'self') errors.push(['NO_LINKS', 'This community only allows text posts.', 'sr']);
    if (kind === 'image' && !s.allowImages) errors.push(['NO_IMAGES', "This community doesn't allow images.", 'sr']);
    const text = kind === 'self' ? f['text'] ?? '' : '';
    if (chars(text) > BODY_MAX) errors.push(['TOO_LONG', `this is too long (max: ${BODY_MAX})`, 'text']);
    const url = f['url'] ?? '';
    let assetKey: string | undefined;
    if (kind === 'link') {
      if (!url) errors.push(['NO_URL', 'a url is required', 'url']);
      else if (!/^https?:\/\/[^\s/]+\.[^\s]+$/i.test(url)) errors.push(['BAD_URL', 'you should check that url', 'url']);
      else if (f['resubmit'] !== 'true' && [...state.posts.values()].some((p) => p.kind === 'link' && p.subreddit === s.name && p.url === url)) {
        errors.push(['ALREADY_SUB', 'that link has already been submitted', 'url']);
      }
    }
    if (kind === 'image') {
      // The url must be the Location of a file this user uploaded through a lease.
      const key = decodeURIComponent(url.split('/').pop() ?? '');
      const asset = [...state.assets.values()].find((a) => a.key === key);
      if (!url) errors.push(['NO_URL', 'a url is required', 'url']);
      else if (!asset || asset.owner !== grant.user.id || !asset.uploaded) errors.push(['BAD_URL', 'you should check that url', 'url']);
      else assetKey = asset.key;
    }
    const flairId = f['flair_id'];
    if (flairId && !s.flairs.some((fl) => fl.id === flairId)) errors.push(['BAD_FLAIR_TEMPLATE_ID', 'That flair template does not exist.', 'flair']);
    errors.push(...requirementErrors(s, kind, title, text, url, flairId));
    if (errors.length > 0) return refuse(errors);
    const throttleKey = `${grant.user.id}:${s.name}`;
    const last = lastPost.get(throttleKey);
    if (state.config.postIntervalSec > 0 && last !== undefined && Date.now() - last < state.config.postIntervalSec * 1000) {
      const wait = (last + state.config.postIntervalSec * 1000 - Date.now()) / 1000;
      const minutes = Math.max(1, Math.ceil(wait / 60));
      return refuse([['RATELIMIT', `Looks like you've been doing that a lot. Take a break for ${minutes} minute${minutes === 1 ? '' : 's'} before trying again.`, 'ratelimit']], { ratelimit: wait });
    }
    lastPost.set(throttleKey, Date.now());
    const flair = s.flairs.find((fl) => fl.id === flairId);
    const post: SimPost = {
      id: newPostId(), authorId: grant.user.id, author: grant.user.username, subreddit: s.name, kind: kind as SimPost['kind'], title, selftext: text,
      url: kind === 'link' ? url : '', flairId, flairText: flair ? (flair.text_editable && f['flair_text'] ? f['flair_text'] : flair.text) : undefined,
      nsfw: f['nsfw'] === 'true', spoiler: f['spoiler'] === 'true', sendReplies: f['sendreplies'] !== 'false',
      createdUtc: Math.floor(Date.now() / 1000), listedAt: Date.now() + (kind === 'image' ? state.config.imageListingDelayMs : 0), assetKey,
    };
    state.posts.set(post.id, post);
    if (kind === 'image') {
      // Image posts answer without an id: the client waits on a websocket (or lists the user's posts).
      return { json: { errors: [], data: { user_submitted_page: `https://www.reddit.com/user/${grant.user.username}/submitted/`, websocket_url: `wss://ws-sim.redditmedia.com/rte_images/${post.id}` } } };
    }
    return { json: { errors: [], data: { url: `https://www.reddit.com/r/${s.name}/comments/${post.id}/${slug(title)}/`, drafts_count: 0, id: post.id, name: `t3_${post.id}` } } };
  });

  app.get<{ Params: { name: string }; Querystring: Record<string, string | undefined> }>('/user/:name/submitted', { config: { operation: 'user.submitted' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, 'history');
    if (!grant) return reply;
    const name = lower(req.params.name);
    const mine = [...state.posts.values()].filter((p) => lower(p.author) === name);
    const known = mine.length > 0 || lower(grant.user.username) === name;
    if (!known) return httpError(reply, 404);
    const q = req.query;
    if (q['sort'] && !['new', 'hot', 'top', 'controversial'].includes(q['sort'])) return httpError(reply, 400);
    const limit = Math.min(100, Math.max(1, Number(q['limit'] ?? 25) || 25));
    const now = Date.now();
    let list = mine.filter((p) => p.listedAt <= now).sort((a, b) => b.createdUtc - a.createdUtc || (b.listedAt - a.listedAt));
    if (q['after']) {
      const at = list.findIndex((p) => `t3_${p.id}` === q['after']);
      list = at >= 0 ? list.slice(at + 1) : [];
    }
    const page = list.slice(0, limit);
    const raw = q['raw_json'] === '1';
    return {
      kind: 'Listing',
      data: { after: list.length > limit ? `t3_${page[page.length - 1]!.id}` : null, before: null, dist: page.length, children: page.map((p) => linkData(p, raw, state.origin(req))) },
    };
  });

  // The post's page (what a publication's URL opens in the sandbox), as Reddit's .json of a post.
  const page = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const p = state.posts.get(req.params.id);
    if (!p || p.listedAt > Date.now()) return httpError(reply, 404);
    return [{ kind: 'Listing', data: { children: [linkData(p, true, state.origin(req))] } }, { kind: 'Listing', data: { children: [] } }];
  };
  app.get('/comments/:id', page);
  app.get('/comments/:id/', page);
  app.get('/r/:sr/comments/:id/:slug/', page);
  app.get('/r/:sr/comments/:id/:slug', page);
}
