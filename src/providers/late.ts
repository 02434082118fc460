// LATE, now Zernio (platforms.md §12; getlate.dev/api/v1). It publishes while answering the create
// (each platform's entry carries its post id and URL) unless the platform is slow, when the entry says
// pending and GET /posts/{id} tells later. It takes no idempotency key or external id: an ambiguous create
// is read back from the newest posts by account and exact content, created since the attempt began (its
// 409 for identical content within 24 h is the same signal seen from the other side).
import { request } from '../connectors/http.js';
import type { ConnectorError } from '../connectors/types.js';
import { err, ok, type Result } from '../lib/result.js';
import { platformOf, providerError, type ProviderAccount, type ProviderCall, type ProviderClient, type ProviderResult } from './types.js';

/** LATE asks clients to give its CDN about a second before a fresh upload's public URL is used. */
export const LATE_CDN_WAIT_MS = 1_000;

async function call(c: ProviderCall, method: 'GET' | 'POST', path: string, what: string, json?: unknown, sideEffect = false): Promise<Result<unknown, ConnectorError>> {
  const sent = await request(`${c.route.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${c.route.apiKey}` }, json, signal: c.signal, sideEffect });
  if (!sent.ok) return sent;
  if (sent.value.status >= 300) return err(providerError('late', sent.value, c.clock.now(), what));
  return ok(sent.value.body);
}

type LatePlatformEntry = { platform?: string; accountId?: string | { _id?: string }; status?: string; platformPostId?: string; platformPostUrl?: string; errorMessage?: string };
type LatePost = { _id?: string; content?: string; createdAt?: string; platforms?: LatePlatformEntry[] };

const accountIdOf = (e: LatePlatformEntry) => (typeof e.accountId === 'object' ? e.accountId?._id : e.accountId);

function resultOf(post: LatePost, account: ProviderAccount): ProviderResult {
  const entry = (post.platforms ?? []).find((e) => accountIdOf(e) === account.id);
  if (!entry) return { state: 'pending' };
  if (entry.status === 'published' && entry.platformPostId) return { state: 'published', platformPostId: entry.platformPostId, url: entry.platformPostUrl ?? '' };
  if (entry.status === 'failed') {
    return { state: 'failed', error: { category: 'permanent', code: 'CONTENT_REJECTED', platformCode: 'platform_failed', message: `${account.platform} account @${account.username} refused it (through LATE): ${entry.errorMessage ?? 'no reason given'}`, retryable: false } };
  }
  return { state: 'pending' };
}

export const late: ProviderClient = {
  name: 'late',

  async listAccounts(c) {
    const got = await call(c, 'GET', '/accounts', 'listing accounts');
    if (!got.ok) return got;
    const list = (got.value as { accounts?: { _id?: string; platform?: string; username?: string; profileId?: string | { _id?: string } }[] }).accounts ?? [];
    const accounts: ProviderAccount[] = [];
    for (const a of list) {
      const platform = platformOf(a.platform);
      const profileId = typeof a.profileId === 'object' ? a.profileId?._id : a.profileId;
      if (a._id && platform && a.username) accounts.push({ id: a._id, platform, username: a.username, profileId });
    }
    return ok(accounts);
  },

  async connectUrl(c, platform, redirectUrl, profileId) {
    const q = new URLSearchParams({ redirect_url: redirectUrl, ...(profileId ? { profileId } : {}) });
    const got = await call(c, 'GET', `/connect/${platform === 'x' ? 'twitter' : platform}?${q}`, 'starting a connection');
    if (!got.ok) return got;
    const url = (got.value as { authUrl?: string }).authUrl;
    return url ? ok(url) : err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'LATE answered no connect URL', retryable: true });
  },

  async uploadMedia(c, media) {
    const got = await call(c, 'POST', '/media/presign', 'presigning an upload', { filename: `${media.mediaId}.${media.mimeType.split('/')[1] ?? 'bin'}`, contentType: media.mimeType });
    if (!got.ok) return got;
    const { uploadUrl, publicUrl } = got.value as { uploadUrl?: string; publicUrl?: string };
    if (!uploadUrl || !publicUrl) return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'LATE answered no upload URL', retryable: true });
    const put = await request(uploadUrl, { method: 'PUT', headers: { 'content-type': media.mimeType }, body: { stream: await media.open(), length: media.size }, signal: c.signal });
    if (!put.ok) return put;
    if (put.value.status >= 300) return err({ ...providerError('late', put.value, c.clock.now(), 'uploading a file'), category: 'media_error', code: 'MEDIA_REJECTED' });
    await new Promise((done) => setTimeout(done, LATE_CDN_WAIT_MS));
    return ok(publicUrl);
  },

  async createPost(c, p) {
    const body = {
      content: p.text,
      platforms: [{ platform: p.account.platform === 'x' ? 'twitter' : p.account.platform, accountId: p.account.id, ...(p.account.profileId ? { profileId: p.account.profileId } : {}) }],
      publishNow: true,
      ...(p.media.length ? { mediaItems: p.media.map((m) => ({ url: m.url, type: m.kind })) } : {}),
    };
    const got = await call(c, 'POST', '/posts', 'creating the post', body, true);
    if (!got.ok) return got;
    const post = (got.value as { post?: LatePost }).post;
    if (!post?._id) return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'LATE answered no post id', retryable: false, outcomeUnknown: true });
    return ok({ postId: post._id, result: resultOf(post, p.account) });
  },

  async postResult(c, postId, account) {
    const got = await call(c, 'GET', `/posts/${encodeURIComponent(postId)}`, 'reading the post');
    if (!got.ok) return got;
    return ok(resultOf((got.value as { post?: LatePost }).post ?? {}, account));
  },

  async findPost(c, post, since) {
    const got = await call(c, 'GET', '/posts?limit=50&page=1', 'reading back recent posts');
    if (!got.ok) return got;
    const after = since.getTime() - 60_000; // the provider's clock may lag ours a little
    const found = ((got.value as { posts?: LatePost[] }).posts ?? []).find(
      (x) => x._id && x.content === post.text && (x.platforms ?? []).some((e) => accountIdOf(e) === post.account.id) && Date.parse(x.createdAt ?? '') >= after,
    );
    return ok(found?._id ?? null);
  },
};
