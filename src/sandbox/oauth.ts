// A simulated OAuth 2.0 authorization server (RFC 6749 code flow, RFC 7636 PKCE, RFC 7009 revocation) that
// every platform simulator mounts at its platform's real paths and with its platform's rules (PKCE
// required or not, how the client authenticates, token lifetimes, whether refresh tokens rotate).
// The consent page is a plain HTML form: a browser user picks a sandbox username and allows or denies;
// tests POST the same form. Tokens are HS256 JWTs, so they survive a sandbox restart when the secret is
// kept; spent codes and refresh tokens and revocations live in memory.
// What it enforces is what real servers enforce (see test-peers.md on oidc-provider): a code is single
// use and its replay revokes what it issued; a reused rotated refresh token revokes its whole family;
// redirect_uri must equal the one authorized; a wrong client secret is 401 invalid_client.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SignJWT, jwtVerify } from 'jose';
import { SANDBOX_APP } from '../connectors/auth-types.js';

export type SimUser = { id: string; username: string; name: string };
export type SimGrant = { user: SimUser; scopes: string[]; clientId: string; family: string };

export type SimOAuthConfig = {
  authorizePath: string;
  tokenPath: string;
  revokePath?: string;
  /** Scopes this platform knows; an unknown one is `invalid_scope`. */
  scopes: readonly string[];
  scopeSeparator: ' ' | ',';
  pkce: 'required' | 'optional';
  clientAuth: 'basic' | 'body' | 'either';
  accessTtlSec: number;
  /** null: the platform issues no refresh tokens. `requiresScope`: only when this scope was granted (X: offline.access). */
  refresh: null | { ttlSec: number; rotate: boolean; requiresScope?: string };
  /** The platform's user id for a sandbox username (numeric for X, a URN id for LinkedIn…). */
  userId?(username: string): string;
  /** Extra fields in the token answer (Threads: user_id). */
  tokenExtras?(grant: SimGrant): Record<string, unknown>;
};

export type TokenCheck = { ok: true; grant: SimGrant } | { ok: false; reason: 'missing' | 'invalid' | 'expired' | 'revoked' };

export type SimOAuth = {
  /** Registered apps by client id; the sandbox app is always there. `redirectUris` empty = any http(s) URL. */
  apps: Map<string, { clientSecret: string; redirectUris: string[] }>;
  users: Map<string, SimUser>;
  user(username: string): SimUser;
  /** Checks an `Authorization: Bearer …` header value (or a bare token). */
  verify(authorization: string | undefined): Promise<TokenCheck>;
  /** Tokens for a user without the browser flow (sandbox accounts created directly). */
  issue(user: SimUser, scopes?: string[], clientId?: string): Promise<Record<string, unknown>>;
  /** Test controls: access tokens issued to this user before now stop working (as if expired) / everything is revoked. */
  expireAccess(userId: string): void;
  revokeUser(userId: string): void;
  routes(app: FastifyInstance): void;
};

type Code = { clientId: string; redirectUri: string; scopes: string[]; user: SimUser; challenge?: string; expiresAt: number; family: string };

const now = () => Math.floor(Date.now() / 1000);
const sha256b64url = (s: string) => createHash('sha256').update(s).digest('base64url');
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function createSimOAuth(config: SimOAuthConfig, opts: { secret?: string } = {}): SimOAuth {
  const key = new TextEncoder().encode(opts.secret ?? randomBytes(32).toString('hex'));
  const apps = new Map([[SANDBOX_APP.clientId, { clientSecret: SANDBOX_APP.clientSecret, redirectUris: [] as string[] }]]);
  const users = new Map<string, SimUser>();
  const codes = new Map<string, Code>();
  // Spent code → the token family it produced: a replayed code revokes what it issued (RFC 6749 §4.1.2).
  const spentCodes = new Map<string, string>();
  const revokedFamilies = new Set<string>();
  const spentRefresh = new Set<string>();
  const expiredBefore = new Map<string, number>();
  const revokedUsers = new Map<string, number>();

  const user = (username: string): SimUser => {
    const id = config.userId?.(username) ?? `u_${createHash('sha256').update(username).digest('hex').slice(0, 16)}`;
    let u = users.get(id);
    if (!u) users.set(id, (u = { id, username, name: username }));
    return u;
  };

  async function sign(typ: 'access' | 'refresh', g: SimGrant, ttl: number): Promise<string> {
    return new SignJWT({ typ, usr: g.user.username, scope: g.scopes.join(' '), cid: g.clientId, fam: g.family })
      .setProtectedHeader({ alg: 'HS256' }).setSubject(g.user.id).setJti(randomBytes(9).toString('base64url'))
      .setIssuedAt().setExpirationTime(now() + ttl).sign(key);
  }

  async function issueTokens(g: SimGrant): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {
      token_type: 'bearer',
      access_token: await sign('access', g, config.accessTtlSec),
      expires_in: config.accessTtlSec,
      scope: g.scopes.join(config.scopeSeparator),
    };
    const r = config.refresh;
    if (r && (!r.requiresScope || g.scopes.includes(r.requiresScope))) {
      out['refresh_token'] = await sign('refresh', g, r.ttlSec);
      out['refresh_token_expires_in'] = r.ttlSec;
    }
    return { ...out, ...config.tokenExtras?.(g) };
  }

  type Claims = { typ: string; usr: string; scope: string; cid: string; fam: string; sub: string; jti: string; iat: number };
  async function decode(token: string): Promise<{ claims: Claims } | { reason: 'invalid' | 'expired' }> {
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'] });
      return { claims: payload as unknown as Claims };
    } catch (e) {
      return { reason: (e as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid' };
    }
  }
  const grantOf = (c: Claims): SimGrant => ({ user: users.get(c.sub) ?? user(c.usr), scopes: c.scope ? c.scope.split(' ') : [], clientId: c.cid, family: c.fam });
  const revoked = (c: Claims) => revokedFamilies.has(c.fam) || (revokedUsers.get(c.sub) ?? -1) >= c.iat;

  async function verify(authorization: string | undefined): Promise<TokenCheck> {
    if (!authorization) return { ok: false, reason: 'missing' };
    const token = authorization.replace(/^Bearer\s+/i, '');
    const d = await decode(token);
    if ('reason' in d) return { ok: false, reason: d.reason };
    if (d.claims.typ !== 'access') return { ok: false, reason: 'invalid' };
    if (revoked(d.claims)) return { ok: false, reason: 'revoked' };
    if ((expiredBefore.get(d.claims.sub) ?? -1) >= d.claims.iat) return { ok: false, reason: 'expired' };
    return { ok: true, grant: grantOf(d.claims) };
  }

  /** Validates the authorize request; an invalid client or redirect is shown on the page, never redirected to. */
  function checkAuthorize(q: Record<string, string | undefined>): { page: string } | { redirect: string; error?: string; scopes: string[] } {
    const app = q['client_id'] ? apps.get(q['client_id']) : undefined;
    if (!app) return { page: 'Unknown client_id.' };
    const redirect = q['redirect_uri'];
    if (!redirect || !/^https?:\/\//.test(redirect)) return { page: 'Missing or invalid redirect_uri.' };
    if (app.redirectUris.length > 0 && !app.redirectUris.includes(redirect)) return { page: 'redirect_uri is not registered for this app.' };
    if (q['response_type'] !== 'code') return { redirect, error: 'unsupported_response_type', scopes: [] };
    const scopes = (q['scope'] ?? '').split(config.scopeSeparator === ',' ? /[,\s]+/ : /\s+/).filter(Boolean);
    if (scopes.length === 0 || scopes.some((s) => !config.scopes.includes(s))) return { redirect, error: 'invalid_scope', scopes };
    if (config.pkce === 'required' && !q['code_challenge']) return { redirect, error: 'invalid_request', scopes };
    if (q['code_challenge'] && q['code_challenge_method'] !== 'S256') return { redirect, error: 'invalid_request', scopes };
    return { redirect, scopes };
  }

  function back(reply: FastifyReply, redirect: string, params: Record<string, string | undefined>) {
    const url = new URL(redirect);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
    return reply.redirect(url.toString(), 302);
  }

  function consentPage(q: Record<string, string | undefined>, scopes: string[]): string {
    const hidden = Object.entries(q).filter(([k]) => k !== 'username' && k !== 'decision')
      .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v ?? '')}">`).join('');
    return `<!doctype html><meta charset="utf-8"><title>Sandbox sign-in</title>
<h1>Sandbox: authorize ${esc(q['client_id'] ?? '')}</h1><p>Scopes: ${scopes.map(esc).join(', ')}</p>
<form method="post">${hidden}<label>Sandbox username <input name="username" required pattern="[A-Za-z0-9_]{1,30}"></label>
<button name="decision" value="allow">Allow</button> <button name="decision" value="deny">Deny</button></form>`;
  }

  function tokenError(reply: FastifyReply, status: number, error: string, description: string) {
    return reply.code(status).header('cache-control', 'no-store').send({ error, error_description: description });
  }

  /** Client authentication at the token and revocation endpoints. */
  function client(req: FastifyRequest, body: Record<string, string>): string | undefined {
    const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
    let id: string | undefined;
    let secret: string | undefined;
    if (basic && config.clientAuth !== 'body') {
      const [i, s] = Buffer.from(basic[1]!, 'base64').toString().split(':').map((p) => decodeURIComponent(p));
      id = i;
      secret = s;
    } else if (config.clientAuth !== 'basic') {
      id = body['client_id'];
      secret = body['client_secret'];
    }
    const app = id ? apps.get(id) : undefined;
    if (!app || secret === undefined) return undefined;
    const a = Buffer.from(app.clientSecret);
    const b = Buffer.from(secret);
    return a.length === b.length && timingSafeEqual(a, b) ? id : undefined;
  }

  async function token(req: FastifyRequest, reply: FastifyReply) {
    const body = { ...(req.query as Record<string, string>), ...((req.body as Record<string, string>) ?? {}) };
    const clientId = client(req, body);
    if (!clientId) return tokenError(reply, 401, 'invalid_client', 'Client authentication failed.');
    if (body['grant_type'] === 'authorization_code') {
      const code = codes.get(body['code'] ?? '');
      if (!code) return tokenError(reply, 400, 'invalid_grant', 'Authorization code is invalid or was already used.');
      codes.delete(body['code']!);
      if (code.expiresAt < now()) return tokenError(reply, 400, 'invalid_grant', 'Authorization code expired.');
      if (code.clientId !== clientId) return tokenError(reply, 400, 'invalid_grant', 'Authorization code was issued to another client.');
      if (body['redirect_uri'] !== code.redirectUri) return tokenError(reply, 400, 'invalid_grant', 'redirect_uri does not match the authorization request.');
      if (code.challenge && (!body['code_verifier'] || sha256b64url(body['code_verifier']) !== code.challenge)) {
        return tokenError(reply, 400, 'invalid_grant', 'PKCE verification failed.');
      }
      spentCodes.set(body['code']!, code.family);
      return reply.header('cache-control', 'no-store').send(await issueTokens({ user: code.user, scopes: code.scopes, clientId, family: code.family }));
    }
    if (body['grant_type'] === 'refresh_token') {
      if (!config.refresh) return tokenError(reply, 400, 'unsupported_grant_type', 'This platform issues no refresh tokens.');
      const d = await decode(body['refresh_token'] ?? '');
      if ('reason' in d || d.claims.typ !== 'refresh') return tokenError(reply, 400, 'invalid_grant', 'Refresh token is invalid or expired.');
      const c = d.claims;
      if (c.cid !== clientId || revoked(c)) return tokenError(reply, 400, 'invalid_grant', 'Refresh token is invalid or was revoked.');
      if (spentRefresh.has(c.jti)) {
        revokedFamilies.add(c.fam); // reuse of a rotated token: assume theft, end the whole family
        return tokenError(reply, 400, 'invalid_grant', 'Refresh token was already used.');
      }
      if (config.refresh.rotate) spentRefresh.add(c.jti);
      const answer = await issueTokens(grantOf(c));
      if (!config.refresh.rotate) answer['refresh_token'] = body['refresh_token'];
      return reply.header('cache-control', 'no-store').send(answer);
    }
    return tokenError(reply, 400, 'unsupported_grant_type', `grant_type ${body['grant_type'] ?? '(missing)'} is not supported.`);
  }
  return {
    apps,
    users,
    user,
    verify,
    issue: (u, scopes = [...config.scopes], clientId = SANDBOX_APP.clientId) => issueTokens({ user: u, scopes, clientId, family: randomBytes(9).toString('base64url') }),
    expireAccess: (userId) => void expiredBefore.set(userId, now()),
    revokeUser: (userId) => void revokedUsers.set(userId, now()),
    routes(app) {
      if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) {
        app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
          done(null, Object.fromEntries(new URLSearchParams(body as string)));
        });
      }
      app.get(config.authorizePath, { config: { operation: 'oauth.authorize' } }, async (req, reply) => {
        const q = req.query as Record<string, string>;
        const checked = checkAuthorize(q);
        if ('page' in checked) return reply.code(400).type('text/html').send(`<!doctype html><p>${esc(checked.page)}</p>`);
        if (checked.error) return back(reply, checked.redirect, { error: checked.error, state: q['state'] });
        return reply.type('text/html').send(consentPage(q, checked.scopes));
      });
      app.post(config.authorizePath, { config: { operation: 'oauth.authorize' } }, async (req, reply) => {
        const q = (req.body ?? {}) as Record<string, string>;
        const checked = checkAuthorize(q);
        if ('page' in checked) return reply.code(400).type('text/html').send(`<!doctype html><p>${esc(checked.page)}</p>`);
        if (checked.error) return back(reply, checked.redirect, { error: checked.error, state: q['state'] });
        if (q['decision'] !== 'allow') return back(reply, checked.redirect, { error: 'access_denied', error_description: 'The user denied the request.', state: q['state'] });
        if (!/^[A-Za-z0-9_]{1,30}$/.test(q['username'] ?? '')) return reply.code(400).type('text/html').send('<!doctype html><p>Pick a username of letters, digits and _.</p>');
        const code = randomBytes(24).toString('base64url');
        codes.set(code, { clientId: q['client_id']!, redirectUri: checked.redirect, scopes: checked.scopes, user: user(q['username']!), challenge: q['code_challenge'], expiresAt: now() + 600, family: randomBytes(9).toString('base64url') });
        return back(reply, checked.redirect, { code, state: q['state'] });
      });
      app.route({ method: ['GET', 'POST'], url: config.tokenPath, config: { operation: 'oauth.token' }, handler: async (req, reply) => {
        // Replaying a spent code also ends the tokens the first exchange produced.
        const body = { ...(req.query as Record<string, string>), ...((req.body as Record<string, string>) ?? {}) };
        const fam = body['grant_type'] === 'authorization_code' ? spentCodes.get(body['code'] ?? '') : undefined;
        if (fam) revokedFamilies.add(fam);
        return token(req, reply);
      } });
      if (config.revokePath) {
        app.post(config.revokePath, { config: { operation: 'oauth.revoke' } }, async (req, reply) => {
          const body = (req.body ?? {}) as Record<string, string>;
          if (!client(req, body)) return tokenError(reply, 401, 'invalid_client', 'Client authentication failed.');
          const d = await decode(body['token'] ?? '');
          if ('claims' in d) revokedFamilies.add(d.claims.fam);
          return reply.send({}); // RFC 7009: 200 even for an unknown token
        });
      }
    },
  };
}
