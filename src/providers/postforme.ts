// Post for Me (platforms.md §12; api.postforme.dev/v1). Posts carry `external_id` = the publication id,
// so an ambiguous create is read back exactly with GET /social-posts?external_id=…; per-account outcomes
// arrive later as post results (GET /social-post-results?post_id=…).
import { request } from '../connectors/http.js';
import type { ConnectorError } from '../connectors/types.js';
import { err, ok, type Result } from '../lib/result.js';
import { platformOf, providerError, type ProviderAccount, type ProviderCall, type ProviderClient, type ProviderResult } from './types.js';

const auth = (c: ProviderCall) => ({ authorization: `Bearer ${c.route.apiKey}` });

async function call(c: ProviderCall, method: 'GET' | 'POST', path: string, what: string, json?: unknown, sideEffect = false): Promise<Result<unknown, ConnectorError>> {
  const sent = await request(`${c.route.baseUrl}${path}`, { method, headers: auth(c), json, signal: c.signal, sideEffect });
  if (!sent.ok) return sent;
  if (sent.value.status >= 300) return err(providerError('postforme', sent.value, c.clock.now(), what));
  return ok(sent.value.body);
}

/** Some answers come bare, some inside `data` (platforms.md §12 says accept both). */
const unwrap = <T>(body: unknown): T => ((body as { data?: unknown })?.data && !Array.isArray((body as { data?: unknown }).data) ? (body as { data: T }).data : (body as T));

export const postForMe: ProviderClient = {
  name: 'postforme',

  async listAccounts(c) {
    const accounts: ProviderAccount[] = [];
    for (let offset = 0; offset < 10_000; ) {
      const got = await call(c, 'GET', `/social-accounts?limit=100&offset=${offset}`, 'listing accounts');
      if (!got.ok) return got;
      const page = (got.value as { data?: { id?: string; platform?: string; username?: string; status?: string }[] }).data ?? [];
      for (const a of page) {
        const platform = platformOf(a.platform);
        if (a.id && platform && a.username && (a.status ?? 'connected') === 'connected') accounts.push({ id: a.id, platform, username: a.username });
      }
      if (page.length < 100) break;
      offset += page.length;
    }
    return ok(accounts);
  },

  async connectUrl(c, platform, redirectUrl) {
    const got = await call(c, 'POST', '/social-accounts/auth-url', 'starting a connection', { platform: platform === 'x' ? 'x' : platform, redirect_url: redirectUrl });
    if (!got.ok) return got;
    const body = got.value as { url?: string; data?: { auth_url?: string; url?: string } };
    const url = body.url ?? body.data?.auth_url ?? body.data?.url;
    return url ? ok(url) : err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'Post for Me answered no connect URL', retryable: true });
  },

  async uploadMedia(c, media) {
    const got = await call(c, 'POST', '/media/create-upload-url', 'creating an upload URL', { content_type: media.mimeType });
    if (!got.ok) return got;
    const { upload_url: uploadUrl, media_url: mediaUrl } = unwrap<{ upload_url?: string; media_url?: string }>(got.value);
    if (!uploadUrl || !mediaUrl) return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'Post for Me answered no upload URL', retryable: true });
    const put = await request(uploadUrl, { method: 'PUT', headers: { 'content-type': media.mimeType }, body: { stream: await media.open(), length: media.size }, signal: c.signal });
    if (!put.ok) return put;
    if (put.value.status >= 300) return err({ ...providerError('postforme', put.value, c.clock.now(), 'uploading a file'), category: 'media_error', code: 'MEDIA_REJECTED' });
    return ok(mediaUrl);
  },

  async createPost(c, p) {
    const body = { caption: p.text, social_accounts: [p.account.id], external_id: p.marker, ...(p.media.length ? { media: p.media.map((m) => ({ url: m.url })) } : {}) };
    const got = await call(c, 'POST', '/social-posts', 'creating the post', body, true);
    if (!got.ok) return got;
    const id = unwrap<{ id?: string }>(got.value).id;
    return id ? ok({ postId: id }) : err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'Post for Me answered no post id', retryable: false, outcomeUnknown: true });
  },

  async postResult(c, postId, account) {
    const got = await call(c, 'GET', `/social-post-results?post_id=${encodeURIComponent(postId)}&social_account_id=${encodeURIComponent(account.id)}`, 'reading the post result');
    if (!got.ok) return got;
    const results = (got.value as { data?: { social_account_id?: string; success?: boolean; error?: unknown; platform_data?: { id?: string; url?: string } }[] }).data ?? [];
    const mine = results.find((r) => r.social_account_id === account.id);
    if (!mine) return ok({ state: 'pending' } satisfies ProviderResult);
    if (mine.success && mine.platform_data?.id) return ok({ state: 'published', platformPostId: mine.platform_data.id, url: mine.platform_data.url ?? '' });
    const why = typeof mine.error === 'string' ? mine.error : JSON.stringify(mine.error ?? 'no reason given');
    return ok({ state: 'failed', error: { category: 'permanent', code: 'CONTENT_REJECTED', platformCode: 'post_result_failed', message: `${p(account)} refused it (through Post for Me): ${why}`, retryable: false } });
  },

  async findPost(c, post) {
    const got = await call(c, 'GET', `/social-posts?external_id=${encodeURIComponent(post.marker)}&limit=10`, 'reading back the post');
    if (!got.ok) return got;
    const found = ((got.value as { data?: { id?: string; social_accounts?: unknown[] }[] }).data ?? []).find((x) => x.id);
    return ok(found?.id ?? null);
  },
};

const p = (a: ProviderAccount) => `${a.platform} account @${a.username}`;
