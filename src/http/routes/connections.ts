// Connecting real accounts: start a connection (OAuth authorize URL, or a password sign-in), the OAuth
// callback the platform sends the user's browser to, and choosing among several accounts of one login.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PLATFORMS } from '../../connectors/types.js';
import { isId } from '../../lib/ids.js';
import { chooseAccounts, completeCallback, getConnection, startConnection, type ConnectionRow } from '../../services/connections.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { notFound } from '../errors.js';
import { idempotent } from '../idempotency.js';
import { errorResponses, literalUnion, nullable } from '../schemas.js';

const tags = ['connections'];
const Params = Type.Object({ id: Type.String() });

const StartBody = Type.Object(
  {
    platform: literalUnion(PLATFORMS),
    redirect_url: Type.String({ format: 'uri', pattern: '^https?://', description: 'Where the user is sent back after the platform, with `connection_id`, `status` and, on failure, `error`.' }),
    sandbox: Type.Optional(Type.Boolean({ description: "Connect through Crier's simulator of the platform (no real credentials). Default false." })),
    instance_url: Type.Optional(Type.String({ maxLength: 300, description: 'Mastodon: the instance, e.g. https://mastodon.social.' })),
    identifier: Type.Optional(Type.String({ maxLength: 300, description: 'Bluesky: the handle or DID.' })),
    password: Type.Optional(Type.String({ maxLength: 300, description: 'Bluesky: an app password (Settings → App passwords), never the account password.' })),
  },
  { additionalProperties: false },
);

const Connection = Type.Object({
  id: Type.String(),
  platform: literalUnion(PLATFORMS),
  sandbox: Type.Boolean(),
  status: literalUnion(['pending', 'exchanging', 'choosing', 'completed', 'failed']),
  authorize_url: Type.Optional(nullable(Type.String({ description: 'Send the user here (only in the answer that starts the connection).' }))),
  redirect_url: Type.String(),
  instance_url: nullable(Type.String()),
  candidates: Type.Array(
    Type.Object({ external_id: Type.String(), username: Type.String(), display_name: Type.String(), kind: Type.String() }),
    { description: 'The accounts this login reaches (after the callback).' },
  ),
  account_ids: Type.Array(Type.String(), { description: 'Accounts created or reconnected by this connection.' }),
  error: nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  expires_at: Type.String({ format: 'date-time' }),
  created_at: Type.String({ format: 'date-time' }),
});

function view(c: ConnectionRow, authorizeUrl?: string | null) {
  return {
    id: c.id,
    platform: c.platform,
    sandbox: c.sandbox,
    status: c.status,
    ...(authorizeUrl !== undefined ? { authorize_url: authorizeUrl } : {}),
    redirect_url: c.redirect_url,
    instance_url: c.instance_url,
    candidates: c.candidates ?? [],
    account_ids: c.account_ids,
    error: c.error,
    expires_at: c.expires_at.toISOString(),
    created_at: c.created_at.toISOString(),
  };
}

export function registerConnectionRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {
  app.post<{ Body: { platform: string; redirect_url: string; sandbox?: boolean; instance_url?: string; identifier?: string; password?: string } }>(
    '/v1/connections',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Start connecting an account',
        description: 'OAuth platforms: returns `authorize_url`; send the user there. The platform sends them back to Crier, which then redirects them to `redirect_url`. Bluesky: send `identifier` and an app `password`; the account is connected at once.',
        body: StartBody,
        response: { 201: Connection, ...errorResponses(400, 401, 403, 422, 502) },
      },
    },
    async (req, reply) => {
      const workspaceId = workspaceOf(req);
      const b = req.body;
      return idempotent(ctx.db, req, reply, async () => {
        const started = await startConnection(ctx, workspaceId, { platform: b.platform, redirectUrl: b.redirect_url, sandbox: b.sandbox ?? false, instanceUrl: b.instance_url, identifier: b.identifier, password: b.password });
        return { status: 201, body: view(started.connection, started.authorizeUrl) };
      });
    },
  );

  app.get<{ Querystring: Record<string, string> }>(
    '/v1/connections/callback',
    {
      config: { auth: 'public' },
      schema: {
        tags,
        summary: 'OAuth callback (the platform sends the user here)',
        description: 'Register `<CRIER_PUBLIC_URL>/v1/connections/callback` as the redirect URI of your app on each platform.',
        querystring: Type.Object({ state: Type.Optional(Type.String()), code: Type.Optional(Type.String()), error: Type.Optional(Type.String()), error_description: Type.Optional(Type.String()) }),
        response: { 302: Type.Null(), ...errorResponses(400) },
      },
    },
    async (req, reply) => {
      const done = await completeCallback(ctx, req.query);
      return reply.redirect(done.redirectTo, 302);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/connections/:id',
    { config: { auth: 'workspace' }, schema: { tags, summary: 'Get a connection and the accounts its login reaches', params: Params, response: { 200: Connection, ...errorResponses(401, 403, 404) } } },
    async (req) => {
      const c = isId('connection', req.params.id) ? await getConnection(ctx, workspaceOf(req), req.params.id) : undefined;
      if (!c) throw notFound('connection');
      return view(c);
    },
  );

  app.post<{ Params: { id: string }; Body: { external_ids: string[] } }>(
    '/v1/connections/:id/accounts',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Choose which accounts of the login to connect',
        params: Params,
        body: Type.Object({ external_ids: Type.Array(Type.String(), { minItems: 1, maxItems: 100 }) }, { additionalProperties: false }),
        response: { 200: Connection, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      if (!isId('connection', req.params.id)) throw notFound('connection');
      return view(await chooseAccounts(ctx, workspaceOf(req), req.params.id, req.body.external_ids));
    },
  );
}
