// Connecting Facebook Pages: Facebook Login (src/connectors/meta/auth.ts), then one account per Page the
// person may publish to (the CREATE_CONTENT task), each with that Page's own token.
import { err, ok } from '../../lib/result.js';
import type { ConnectableAccount, OAuthTokens } from '../auth-types.js';
import { metaAuth, missingPermissions } from '../meta/auth.js';
import type { MetaCredentials } from '../meta/graph.js';

export type FacebookCredentials = MetaCredentials & OAuthTokens & { pageName?: string };

/**
 * Listing Pages and their tokens (pages_show_list), publishing (pages_manage_posts, with
 * pages_read_engagement, which Graph also requires to read the Page's posts back), Pages reached through a
 * Business Manager (business_management), and metrics later (read_insights).
 */
export const FACEBOOK_SCOPES = ['pages_show_list', 'pages_manage_posts', 'pages_read_engagement', 'business_management', 'read_insights'];
const NEEDED = ['pages_show_list', 'pages_manage_posts', 'pages_read_engagement'];

export const facebookAuth = metaAuth<FacebookCredentials>('Facebook', FACEBOOK_SCOPES, (login) => {
  const missing = missingPermissions(login, NEEDED, 'Facebook');
  if (missing) return err(missing);
  const accounts: ConnectableAccount<FacebookCredentials>[] = login.pages
    // A Page the person can only analyse or moderate cannot be published to.
    .filter((p) => p.access_token && (p.tasks === undefined || p.tasks.includes('CREATE_CONTENT')))
    .map((p) => ({
      externalId: p.id,
      username: p.username ?? p.id,
      displayName: p.name,
      kind: 'page',
      credentials: {
        accessToken: p.access_token!,
        scopes: login.granted,
        pageId: p.id,
        pageName: p.name,
        userToken: login.userToken,
        userTokenExpiresAt: login.userTokenExpiresAt,
      },
    }));
  return ok(accounts);
});
