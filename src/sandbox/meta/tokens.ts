// Meta's tokens on the simulator (platforms.md §3 "Auth"). The login dialog and the code exchange are the
// shared simulated OAuth server (src/sandbox/oauth.ts) at Facebook's versioned paths, issuing short-lived
// user tokens (hours); a second instance with the same signing secret mints the ~60-day tokens of
// fb_exchange_token. Page tokens are something the shared server has no notion of, so they are signed here
// with the same secret: a Page token names its user and Page, and lives as long as the user token it was
// derived from did (none when that was long-lived: it does not expire). Tokens end early as Graph ends
// them: expiry (190/463), a password change (190/460), the app removed (190/458), a role lost on the Page.
import { SignJWT, jwtVerify } from 'jose';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createSimOAuth, type SimOAuth, type SimOAuthConfig, type SimUser } from '../oauth.js';
import { graphError, params, tokenOf, type MetaSimConfig } from './graph.js';
import { facebookUserId } from './state.js';

/** Every permission the simulator knows (an unknown one at the dialog is invalid_scope). */
export const META_SIM_SCOPES = [
  'public_profile', 'email', 'pages_show_list', 'pages_manage_posts', 'pages_read_engagement', 'pages_read_user_content',
  'pages_manage_engagement', 'pages_manage_metadata', 'read_insights', 'business_management',
  'instagram_basic', 'instagram_content_publish', 'instagram_manage_comments', 'instagram_manage_insights', 'ads_management', 'ads_read',
] as const;

export type Auth = {
  kind: 'user' | 'page';
  user: SimUser;
  scopes: string[];
  clientId: string;
  /** Page tokens: the Page. */
  pageId?: string;
  /** User tokens: the long-lived kind (from fb_exchange_token). */
  longLived: boolean;
  /** Expiry (epoch seconds) when the token has one. */
  exp?: number;
  token: string;
};

type Refusal = { subcode?: number; message: string; code?: number };

export type MetaTokens = {
  oauth: SimOAuth;
  issueLong(user: SimUser, scopes: string[], clientId: string): Promise<{ token: string; expiresIn: number }>;
  /** A Page token derived from this user token (same user, permissions and app; expires when it does). */
  pageToken(from: Auth, pageId: string): Promise<string>;
  check(token: string | undefined): Promise<{ ok: true; auth: Auth } | { ok: false; refusal: Refusal }>;
  /** The request's token; answers with Graph's error itself (and returns undefined) when it is not usable. */
  authorize(req: FastifyRequest, reply: FastifyReply): Promise<Auth | undefined>;
  /** Test controls: every token of the user issued until now stops working, for this reason. */
  invalidate(userId: string, subcode: 458 | 460 | 463 | 467): void;
  routes(app: FastifyInstance): Promise<void>;
};

const REFUSALS: Record<number, string> = {
  458: 'Error validating access token: The user has not authorized application.',
  460: 'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.',
  463: 'Error validating access token: Session has expired.',
  467: 'Error validating access token: The user has logged out.',
};

export function createMetaTokens(secret: string, config: MetaSimConfig, isAdmin: (userId: string, pageId: string) => boolean): MetaTokens {
  const key = new TextEncoder().encode(secret);
  const common: Omit<SimOAuthConfig, 'accessTtlSec'> = {
    authorizePath: '/:version/dialog/oauth',
    tokenPath: '/:version/oauth/access_token',
    scopes: META_SIM_SCOPES,
    scopeSeparator: ',',
    pkce: 'optional',
    clientAuth: 'body',
    refresh: null,
    userId: facebookUserId,
  };
  const oauth = createSimOAuth({ ...common, accessTtlSec: config.shortTtlSec }, { secret });
  const long = createSimOAuth({ ...common, accessTtlSec: config.longTtlSec }, { secret });
  const invalidated = new Map<string, { at: number; subcode: number }>();

  async function issueLong(user: SimUser, scopes: string[], clientId: string) {
    const answer = await long.issue(user, scopes, clientId);
    return { token: answer['access_token'] as string, expiresIn: config.longTtlSec };
  }

  async function pageToken(from: Auth, pageId: string): Promise<string> {
    const jwt = new SignJWT({ typ: 'page', usr: from.user.username, pid: pageId, scope: from.scopes.join(' '), cid: from.clientId })
      .setProtectedHeader({ alg: 'HS256' }).setSubject(from.user.id).setJti(randomBytes(9).toString('base64url')).setIssuedAt();
    // Derived from a short-lived user token, a Page token lasts as long; from a long-lived one, it does not expire.
    if (!from.longLived && from.exp) jwt.setExpirationTime(from.exp);
    return jwt.sign(key);
  }

  async function check(token: string | undefined): Promise<{ ok: true; auth: Auth } | { ok: false; refusal: Refusal }> {
    if (!token) return { ok: false, refusal: { code: 104, message: 'An access token is required to request this resource.' } };
    let claims: Record<string, unknown>;
    try {
      claims = (await jwtVerify(token, key, { algorithms: ['HS256'] })).payload as Record<string, unknown>;
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_JWT_EXPIRED') return { ok: false, refusal: { subcode: 463, message: `Error validating access token: Session has expired on ${new Date().toUTCString()}.` } };
      return { ok: false, refusal: { message: 'Invalid OAuth access token - Cannot parse access token' } };
    }
    const iat = Number(claims['iat'] ?? 0);
    const userId = String(claims['sub']);
    const gone = invalidated.get(userId);
    if (gone && gone.at >= iat) return { ok: false, refusal: { subcode: gone.subcode, message: REFUSALS[gone.subcode]! } };
    const exp = typeof claims['exp'] === 'number' ? claims['exp'] : undefined;
    if (claims['typ'] === 'page') {
      const pageId = String(claims['pid']);
      // A Page token stops working when its user no longer has a role on the Page (Graph: 190/492).
      if (!isAdmin(userId, pageId)) return { ok: false, refusal: { subcode: 492, message: 'Error validating access token: The user is not an administrator of the page.' } };
      const user = oauth.users.get(userId) ?? oauth.user(String(claims['usr']));
      const scopes = String(claims['scope'] ?? '').split(' ').filter(Boolean);
      return { ok: true, auth: { kind: 'page', user, scopes, clientId: String(claims['cid']), pageId, longLived: exp === undefined, exp, token } };
    }
    const v = await oauth.verify(token); // signature, access type, and a replayed code's revocation
    if (!v.ok) return { ok: false, refusal: { message: 'Invalid OAuth access token - Cannot parse access token' } };
    return { ok: true, auth: { kind: 'user', user: v.grant.user, scopes: v.grant.scopes, clientId: v.grant.clientId, longLived: exp !== undefined && exp - iat > 86_400, exp, token } };
  }

  async function authorize(req: FastifyRequest, reply: FastifyReply): Promise<Auth | undefined> {
    const r = await check(tokenOf(req));
    if (r.ok) return r.auth;
    reply.header('www-authenticate', 'OAuth "Facebook Platform" "invalid_token"');
    graphError(reply, 400, r.refusal.code ?? 190, r.refusal.message, r.refusal.subcode ? { error_subcode: r.refusal.subcode } : {});
    return undefined;
  }

  /** GET /oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret&fb_exchange_token. */
  async function exchange(req: FastifyRequest, reply: FastifyReply) {
    const p = params(req);
    const app = oauth.apps.get(p['client_id'] ?? '');
    if (!app) return graphError(reply, 400, 101, 'Error validating application. Invalid application ID.');
    if (p['client_secret'] !== app.clientSecret) return graphError(reply, 400, 1, 'Error validating client secret.');
    const r = await check(p['fb_exchange_token']);
    if (!r.ok) return graphError(reply, 400, r.refusal.code ?? 190, r.refusal.message, r.refusal.subcode ? { error_subcode: r.refusal.subcode } : {});
    if (r.auth.kind !== 'user') return graphError(reply, 400, 190, 'Invalid OAuth access token - only user access tokens can be exchanged');
    if (r.auth.clientId !== p['client_id']) return graphError(reply, 400, 190, 'Error validating access token: the token was not issued to this application.');
    const issued = await issueLong(r.auth.user, r.auth.scopes, r.auth.clientId);
    return reply.header('cache-control', 'no-store').send({ access_token: issued.token, token_type: 'bearer', expires_in: issued.expiresIn });
  }

  return {
    oauth,
    issueLong,
    pageToken,
    check,
    authorize,
    invalidate: (userId, subcode) => void invalidated.set(userId, { at: Math.floor(Date.now() / 1000), subcode }),
    async routes(app) {
      // The code exchange and fb_exchange_token share Facebook's one token path; the latter is answered
      // here, before the shared server (which knows only the standard grants) sees it.
      await app.register(async (scope) => {
        scope.addHook('preHandler', async (req, reply) => {
          if (req.routeOptions.config.operation !== 'oauth.token' || params(req)['grant_type'] !== 'fb_exchange_token') return;
          await exchange(req, reply);
          return reply;
        });
        oauth.routes(scope);
      });
    },
  };
}
