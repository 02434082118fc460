// Connecting Instagram professional accounts through Facebook Login (platforms.md §4 "With Facebook Login"):
// the same login as Facebook Pages (src/connectors/meta/auth.ts); each Page with a linked Instagram account
// gives one account, which publishes with the Page's token (it does not expire by time) to its Instagram
// user id. Instagram Login (graph.instagram.com, tokens of its own) is not used: Facebook Login reaches the
// same accounts and keeps one login for both platforms.
import { err, ok } from '../../lib/result.js';
import type { ConnectableAccount, OAuthTokens } from '../auth-types.js';
import { metaAuth, missingPermissions } from '../meta/auth.js';
import type { MetaCredentials } from '../meta/graph.js';

export type InstagramCredentials = MetaCredentials & OAuthTokens & {
  /** The Instagram professional account (also the account's external id). */
  igUserId: string;
  username: string;
};

/**
 * Publishing (instagram_basic, instagram_content_publish, with pages_read_engagement and pages_show_list
 * that Graph requires to reach the account through its Page), first comments (instagram_manage_comments),
 * Pages reached through a Business Manager (business_management), and metrics later
 * (instagram_manage_insights).
 */
export const INSTAGRAM_SCOPES = ['instagram_basic', 'instagram_content_publish', 'instagram_manage_comments', 'instagram_manage_insights', 'pages_show_list', 'pages_read_engagement', 'business_management'];
const NEEDED = ['instagram_basic', 'instagram_content_publish', 'pages_show_list', 'pages_read_engagement'];

export const instagramAuth = metaAuth<InstagramCredentials>('Instagram', INSTAGRAM_SCOPES, (login) => {
  const missing = missingPermissions(login, NEEDED, 'Instagram');
  if (missing) return err(missing);
  const accounts: ConnectableAccount<InstagramCredentials>[] = [];
  for (const p of login.pages) {
    const ig = p.instagram_business_account;
    // A Page without a linked professional account has nothing to publish to on Instagram.
    if (!ig?.id || !p.access_token || (p.tasks !== undefined && !p.tasks.includes('CREATE_CONTENT'))) continue;
    accounts.push({
      externalId: String(ig.id),
      username: ig.username ?? String(ig.id),
      displayName: ig.name || ig.username || p.name,
      kind: 'instagram_business',
      credentials: {
        accessToken: p.access_token,
        scopes: login.granted,
        pageId: p.id,
        igUserId: String(ig.id),
        username: ig.username ?? String(ig.id),
        userToken: login.userToken,
        userTokenExpiresAt: login.userTokenExpiresAt,
      },
    });
  }
  return ok(accounts);
});
