// Connecting LinkedIn accounts (platforms.md §2 "Auth"): 3-legged OAuth 2.0 at www.linkedin.com, no PKCE
// (LinkedIn uses it for native apps only), the client secret in the form body. Access tokens live 60 days.
// Most apps get no refresh token: such an account carries expiresAt and no refreshToken, and Crier asks for
// a reconnect before it expires. Apps LinkedIn approved for programmatic refresh also get a refresh token
// (365 days, not extended by refreshing); the standard refresh grant at the token endpoint renews them.
// One login yields the member and every organization (page) the member administers, each with the same
// token and its own author URN.
import { err, ok, type Result } from '../../lib/result.js';
import type { AuthCtx, ConnectableAccount, OAuth2Auth, OAuthTokens, TokenAnswer } from '../auth-types.js';
import type { ConnectorError } from '../types.js';
import * as client from './client.js';
import { mapLinkedInError } from './errors.js';

export type LinkedInCredentials = OAuthTokens & {
  /** Who posts: urn:li:person:{id} (the member) or urn:li:organization:{id} (a page the member administers). */
  author: string;
};

/**
 * Member posting (Share on LinkedIn + Sign In with OpenID Connect) and page posting (Community Management).
 * An app without the Community Management product must drop the three organization scopes: LinkedIn
 * refuses an authorization that asks for scopes the app was not granted.
 */
export const LINKEDIN_SCOPES = ['openid', 'profile', 'w_member_social', 'w_organization_social', 'r_organization_social', 'rw_organization_admin'];

/** Page roles that may post as the page (Posts API: w_organization_social); Crier lists the administrators' pages. */
const ROLE = 'ADMINISTRATOR';
const PAGE = 100;

type Acl = { organization?: string; role?: string; state?: string };
type Org = { id?: number; localizedName?: string; vanityName?: string };

async function administeredOrganizations(ctx: AuthCtx, token: string): Promise<Result<string[], ConnectorError>> {
  const ids: string[] = [];
  for (let start = 0; ; start += PAGE) {
    const got = await client.organizationAcls(ctx.baseUrl, token, ROLE, start, PAGE, ctx.signal);
    if (!got.ok) return got;
    // An app without the organization scopes cannot list pages: the login then yields the member only.
    if (got.value.status === 403) return ok([]);
    if (got.value.status !== 200) return err(mapLinkedInError(got.value, ctx.clock.now(), 'read'));
    const elements = ((got.value.body as { elements?: Acl[] })?.elements ?? []);
    for (const e of elements) {
      const id = /^urn:li:organization:(\d+)$/.exec(e.organization ?? '')?.[1];
      if (id && e.role === ROLE && e.state === 'APPROVED' && !ids.includes(id)) ids.push(id);
    }
    if (elements.length < PAGE) return ok(ids);
  }
}

async function organizationNames(ctx: AuthCtx, token: string, ids: string[]): Promise<Result<Map<string, Org>, ConnectorError>> {
  const found = new Map<string, Org>();
  for (let i = 0; i < ids.length; i += 50) {
    const got = await client.organizations(ctx.baseUrl, token, ids.slice(i, i + 50), ctx.signal);
    if (!got.ok) return got;
    if (got.value.status === 403) continue; // names are a nicety: pages are still listed by id
    if (got.value.status !== 200) return err(mapLinkedInError(got.value, ctx.clock.now(), 'read'));
    const results = (got.value.body as { results?: Record<string, Org> })?.results ?? {};
    for (const [id, org] of Object.entries(results)) found.set(id, org);
  }
  return ok(found);
}

async function accounts(ctx: AuthCtx, tokens: TokenAnswer): Promise<Result<ConnectableAccount<LinkedInCredentials>[], ConnectorError>> {
  const { raw: _raw, ...stored } = tokens;
  const me = await client.userinfo(ctx.baseUrl, tokens.accessToken, ctx.signal);
  if (!me.ok) return me;
  if (me.value.status !== 200) return err(mapLinkedInError(me.value, ctx.clock.now(), 'read'));
  const info = me.value.body as { sub?: string; name?: string; given_name?: string; family_name?: string; email?: string };
  if (!info?.sub) return err({ category: 'permanent', code: 'PLATFORM_ERROR', message: 'LinkedIn userinfo answered without the member id (sub)', retryable: false });
  const name = info.name ?? ([info.given_name, info.family_name].filter(Boolean).join(' ') || info.sub);
  // Scopes as granted (LinkedIn's token answer lists them): a login without a posting scope yields nothing to post to.
  const granted = (s: string) => !stored.scopes || stored.scopes.includes(s);
  const found: ConnectableAccount<LinkedInCredentials>[] = [];
  const member = `urn:li:person:${info.sub}`;
  if (granted('w_member_social')) {
    found.push({ externalId: member, username: name, displayName: name, kind: 'member', credentials: { ...stored, author: member } });
  }
  if (!granted('w_organization_social')) return ok(found);
  const ids = await administeredOrganizations(ctx, tokens.accessToken);
  if (!ids.ok) return ids;
  const names = await organizationNames(ctx, tokens.accessToken, ids.value);
  if (!names.ok) return names;
  for (const id of ids.value) {
    const org = names.value.get(id);
    const author = `urn:li:organization:${id}`;
    const display = org?.localizedName ?? `Organization ${id}`;
    found.push({ externalId: author, username: org?.vanityName ?? id, displayName: display, kind: 'organization', credentials: { ...stored, author } });
  }
  return ok(found);
}

export const linkedinAuth: OAuth2Auth<LinkedInCredentials> = {
  kind: 'oauth2',
  authorizeEndpoint: { origin: 'https://www.linkedin.com', path: '/oauth/v2/authorization' },
  tokenEndpoint: { origin: 'https://www.linkedin.com', path: '/oauth/v2/accessToken' },
  scopes: LINKEDIN_SCOPES,
  scopeSeparator: ' ',
  pkce: false,
  clientAuth: 'body',
  accounts,
};
