// Connecting Instagram professional accounts through Facebook Login against the Graph simulator: the same
// dialog and long-lived login as Facebook Pages, with Instagram's permissions; each Page with a linked
// Instagram account gives one account that publishes with the Page's token. The simulator's one state serves
// both mounts, so the account is the same through /facebook and /instagram.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_APP, type AuthCtx } from '../src/connectors/auth-types.js';
import { facebookAuth } from '../src/connectors/facebook/auth.js';
import { INSTAGRAM_SCOPES, instagramAuth } from '../src/connectors/instagram/auth.js';
import { instagramConnector } from '../src/connectors/instagram/connector.js';
import { authorizeUrl, exchangeCode } from '../src/connectors/oauth/client.js';
import { isPending } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { freshConfig } from '../src/sandbox/meta/graph.js';
import { makeMetaFixtures, media, metaCtx, metaDraft, silent, startFileServer, type FileServer, type MetaFixtures } from './support/meta.js';

const REDIRECT = 'https://app.example.com/instagram/callback';
let sandbox: SandboxServer;
let base: string;
let files: FileServer;
let fx: MetaFixtures;

beforeAll(async () => {
  [sandbox, files, fx] = await Promise.all([startSandboxServer(), startFileServer(), makeMetaFixtures()]);
  base = `${sandbox.url}/instagram`;
});
afterAll(async () => {
  await sandbox?.close();
  await files?.close();
});
beforeEach(() => Object.assign(sandbox.meta.config, freshConfig()));

const authCtx = (b = base): AuthCtx => ({ baseUrl: b, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(10_000) });

async function login(username: string, b = base, scopes?: string[]) {
  const u = new URL(authorizeUrl(b === base ? instagramAuth : facebookAuth, { sandboxBase: b }, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 'st' }));
  if (scopes) u.searchParams.set('scope', scopes.join(','));
  const form = new URLSearchParams(u.searchParams);
  form.set('username', username);
  form.set('decision', 'allow');
  const r = await fetch(`${u.origin}${u.pathname}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form, redirect: 'manual' });
  const code = new URL(r.headers.get('location')!).searchParams.get('code')!;
  const tokens = await exchangeCode(instagramAuth, { sandboxBase: b }, SANDBOX_APP, { code, redirectUri: REDIRECT }, new Date(), AbortSignal.timeout(5_000));
  if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
  return tokens.value;
}

describe('connecting Instagram accounts', () => {
  it('asks for Instagram\'s permissions in Facebook\'s dialog and offers the Instagram accounts linked to the Pages', async () => {
    const url = new URL(authorizeUrl(instagramAuth, {}, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 's' }));
    expect(url.origin + url.pathname).toBe('https://www.facebook.com/v24.0/dialog/oauth');
    expect(url.searchParams.get('scope')).toBe(INSTAGRAM_SCOPES.join(','));
    const accounts = await instagramAuth.accounts(authCtx(), await login('insta_owner'));
    if (!accounts.ok) throw new Error(JSON.stringify(accounts.error));
    expect(accounts.value).toEqual([expect.objectContaining({ username: 'insta_owner', kind: 'instagram_business' })]);
    const c = accounts.value[0]!.credentials;
    expect(c.igUserId).toBe(accounts.value[0]!.externalId);
    expect(sandbox.meta.igUsers.get(c.igUserId)).toMatchObject({ pageId: c.pageId, username: 'insta_owner' });
    expect(c.expiresAt).toBeUndefined();
    const a = metaCtx(base, c);
    const r = await instagramConnector.publish(a.ctx, metaDraft(a, 'first post through a connection', [media(files, fx.jpeg, 'image')]));
    expect(r.ok && !isPending(r.value)).toBe(true);
  });

  it('leaves out Pages without an Instagram account, and says which Instagram permissions were not granted', async () => {
    const tokens = await login('mixed_owner');
    expect((await instagramAuth.accounts(authCtx(), tokens)).ok).toBe(true);
    const userId = [...sandbox.meta.tokens.oauth.users.values()].find((u) => u.username === 'mixed_owner')!.id;
    await fetch(`${base}/_sim/pages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: userId, name: 'No Instagram here' }) });
    await fetch(`${base}/_sim/pages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: userId, name: 'Brand Page', instagram: 'brand.account' }) });
    const accounts = await instagramAuth.accounts(authCtx(), await login('mixed_owner'));
    expect(accounts.ok && accounts.value.map((a) => a.username).sort()).toEqual(['brand.account', 'mixed_owner']);
    const partial = await instagramAuth.accounts(authCtx(), await login('mixed_owner', base, ['instagram_basic', 'pages_show_list', 'pages_read_engagement']));
    expect(!partial.ok && partial.error).toMatchObject({ category: 'revoked', message: expect.stringMatching(/instagram_content_publish/) });
  });

  it('serves one state on both mounts: a Page connected through /facebook reaches its Instagram account through /instagram', async () => {
    const fb = await facebookAuth.accounts(authCtx(`${sandbox.url}/facebook`), await login('both_ways', `${sandbox.url}/facebook`, [...INSTAGRAM_SCOPES, 'pages_manage_posts']));
    if (!fb.ok) throw new Error(JSON.stringify(fb.error));
    const page = fb.value[0]!.credentials;
    const ig = sandbox.meta.pages.get(page.pageId)!.igUserId!;
    const a = metaCtx(base, { ...page, igUserId: ig, username: 'both_ways' });
    const r = await instagramConnector.publish(a.ctx, metaDraft(a, 'through the other mount', [media(files, fx.jpeg, 'image')]));
    expect(r.ok && !isPending(r.value) && sandbox.meta.igMedia.get(r.value.platformPostId)?.igUserId).toBe(ig);
  });
});
