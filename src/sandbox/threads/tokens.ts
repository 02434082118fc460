// Threads' tokens on the simulator (platforms.md §5 "Auth"). The code flow is the shared simulated OAuth
// server (src/sandbox/oauth.ts) at Threads' paths, issuing 1-hour tokens plus `user_id`; a second instance
// with the same signing secret mints the 60-day tokens of th_exchange_token and th_refresh_token (the shared
// server has one token lifetime, Threads has two). A token is long-lived when its lifetime is over a day.
import { decodeJwt } from 'jose';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createSimOAuth, type SimGrant, type SimOAuth, type SimOAuthConfig, type SimUser, type TokenCheck } from '../oauth.js';
import { graphError, tokenOf, type ThreadsSimConfig } from './graph.js';

/** Every permission the Threads API knows (an unknown one at authorize is invalid_scope). */
export const THREADS_SIM_SCOPES = [
  'threads_basic', 'threads_content_publish', 'threads_manage_replies', 'threads_read_replies',
  'threads_manage_insights', 'threads_delete', 'threads_location_tagging',
] as const;

/** A numeric Threads user id for a sandbox username (15 digits: exact as a JSON number too). */
export function threadsUserId(username: string): string {
  let h = 0n;
  for (const b of Buffer.from(username)) h = (h * 131n + BigInt(b)) % 900_000_000_000_000n;
  return String(100_000_000_000_000n + h);
}

export type Authorized = { grant: SimGrant; token: string; longLived: boolean; issuedAt: number };

export type ThreadsTokens = {
  /** The code flow (mounted): apps, users, and the 1-hour tokens. */
  oauth: SimOAuth;
  /** A 60-day token for a user, as th_exchange_token gives. */
  issueLong(user: SimUser, scopes: string[], clientId: string): Promise<string>;
  /** Checks a token against both instances (a revocation or expiry made through either counts). */
  verify(token: string | undefined): Promise<TokenCheck>;
  /** The request's token, verified; answers the request itself (Graph error 190) when it is not usable. */
  authorize(req: FastifyRequest, reply: FastifyReply): Promise<Authorized | undefined>;
  /** Test controls: the user's tokens issued until now stop working as expired / as revoked. */
  expire(userId: string): void;
  revoke(userId: string): void;
  routes(app: FastifyInstance): void;
};

export function createThreadsTokens(secret: string, config: ThreadsSimConfig): ThreadsTokens {
  const common: Omit<SimOAuthConfig, 'accessTtlSec'> = {
    authorizePath: '/oauth/authorize',
    tokenPath: '/oauth/access_token',
    scopes: THREADS_SIM_SCOPES,
    scopeSeparator: ',',
    pkce: 'optional',
    clientAuth: 'body',
    refresh: null,
    userId: threadsUserId,
    // Threads answers the code exchange with the user's id (a JSON number) beside the token.
    tokenExtras: (g) => ({ user_id: Number(g.user.id) }),
  };
  const oauth = createSimOAuth({ ...common, accessTtlSec: config.shortTtlSec }, { secret });
  const long = createSimOAuth({ ...common, accessTtlSec: config.longTtlSec }, { secret });

  async function verify(token: string | undefined): Promise<TokenCheck> {
    const a = await oauth.verify(token);
    if (!a.ok) return a;
    const b = await long.verify(token);
    return b.ok ? a : b;
  }

  async function issueLong(user: SimUser, scopes: string[], clientId: string): Promise<string> {
    return (await long.issue(user, scopes, clientId))['access_token'] as string;
  }

  async function authorize(req: FastifyRequest, reply: FastifyReply): Promise<Authorized | undefined> {
    const token = tokenOf(req);
    const check = await verify(token);
    if (!check.ok) {
      tokenRefused(reply, check.reason);
      return undefined;
    }
    const claims = decodeJwt(token!);
    return { grant: check.grant, token: token!, longLived: (claims.exp ?? 0) - (claims.iat ?? 0) > 86_400, issuedAt: (claims.iat ?? 0) * 1000 };
  }

  return {
    oauth,
    issueLong,
    verify,
    authorize,
    expire: (userId) => {
      oauth.expireAccess(userId);
      long.expireAccess(userId);
    },
    revoke: (userId) => {
      oauth.revokeUser(userId);
      long.revokeUser(userId);
    },
    routes(app) {
      oauth.routes(app);
      // Short-lived → long-lived: GET /access_token?grant_type=th_exchange_token&client_secret&access_token.
      app.get('/access_token', { config: { operation: 'th_exchange_token' } }, async (req, reply) => {
        const q = req.query as Record<string, string | undefined>;
        if (q['grant_type'] !== 'th_exchange_token') return graphError(reply, 400, 100, `Unsupported grant_type: ${q['grant_type'] ?? '(missing)'}`);
        const auth = await authorize(req, reply);
        if (!auth) return reply;
        if (auth.longLived) return graphError(reply, 400, 100, 'The access token is already a long-lived token');
        const app_ = oauth.apps.get(auth.grant.clientId);
        if (!app_ || q['client_secret'] !== app_.clientSecret) return graphError(reply, 400, 101, 'Error validating client secret.');
        const token = await issueLong(auth.grant.user, auth.grant.scopes, auth.grant.clientId);
        return { access_token: token, token_type: 'bearer', expires_in: config.longTtlSec };
      });
      // Long-lived (≥ refreshMinAgeSec old, unexpired) → a new long-lived one: th_refresh_token, no secret.
      app.get('/refresh_access_token', { config: { operation: 'th_refresh_token' } }, async (req, reply) => {
        const q = req.query as Record<string, string | undefined>;
        if (q['grant_type'] !== 'th_refresh_token') return graphError(reply, 400, 100, `Unsupported grant_type: ${q['grant_type'] ?? '(missing)'}`);
        const auth = await authorize(req, reply);
        if (!auth) return reply;
        if (!auth.longLived) return graphError(reply, 400, 100, 'Only long-lived access tokens can be refreshed; exchange this token first');
        // The 24-hour rule (its error body is not documented: unconfirmed).
        if (Date.now() - auth.issuedAt < config.refreshMinAgeSec * 1000) {
          return graphError(reply, 400, 100, `The access token can be refreshed once it is at least ${config.refreshMinAgeSec} seconds old`);
        }
        const token = await issueLong(auth.grant.user, auth.grant.scopes, auth.grant.clientId);
        return { access_token: token, token_type: 'bearer', expires_in: config.longTtlSec };
      });
    },
  };
}

/** Graph's answers for a token it does not take (HTTP 400 with WWW-Authenticate, as Graph does; Threads' own status unconfirmed). */
export function tokenRefused(reply: FastifyReply, reason: 'missing' | 'invalid' | 'expired' | 'revoked') {
  reply.header('www-authenticate', 'OAuth "Threads Platform" "invalid_token"');
  switch (reason) {
    case 'missing':
      return graphError(reply, 400, 104, 'An access token is required to request this resource.');
    case 'expired':
      return graphError(reply, 400, 190, `Error validating access token: Session has expired on ${new Date().toUTCString()}.`, { error_subcode: 463 });
    case 'revoked':
      return graphError(reply, 400, 190, 'Error validating access token: The session has been invalidated because the user changed their password or removed the app.', { error_subcode: 460 });
    default:
      return graphError(reply, 400, 190, 'Invalid OAuth access token - Cannot parse access token');
  }
}
