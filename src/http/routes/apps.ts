// A workspace's own platform apps ("bring your own app"): connections of that workspace use this app
// instead of the operator's. The client secret is write-only: stored encrypted, never returned.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { getConnector } from '../../connectors/registry.js';
import { PLATFORMS } from '../../connectors/types.js';
import { saveApp } from '../../services/oauth-apps.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { errorResponses, literalUnion, nullable } from '../schemas.js';

const tags = ['apps'];
const Params = Type.Object({ platform: literalUnion(PLATFORMS) });
const App = Type.Object({
  platform: literalUnion(PLATFORMS),
  client_id: Type.String(),
  instance_url: nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
type AppRow = { platform: string; client_id: string; instance_url: string | null; created_at: Date; updated_at: Date };
const view = (a: AppRow) => ({ platform: a.platform, client_id: a.client_id, instance_url: a.instance_url, created_at: a.created_at.toISOString(), updated_at: a.updated_at.toISOString() });

export function registerAppRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {
  app.put<{ Params: { platform: string }; Body: { client_id: string; client_secret: string } }>(
    '/v1/apps/:platform',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: "Use the workspace's own app for a platform",
        description: 'Register `<CRIER_PUBLIC_URL>/v1/connections/callback` as its redirect URI on the platform. Accounts connected before keep the app they were connected with.',
        params: Params,
        body: Type.Object({ client_id: Type.String({ minLength: 1, maxLength: 300 }), client_secret: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false }),
        response: { 200: App, ...errorResponses(400, 401, 403, 404, 422) },
      },
    },
    async (req) => {
      const auth = getConnector(req.params.platform)?.auth;
      if (auth?.kind !== 'oauth2') throw new ApiError('PLATFORM_NOT_SUPPORTED', `${req.params.platform} does not connect through an OAuth app`);
      if (auth.authorizeEndpoint.origin === 'instance') throw new ApiError('PLATFORM_NOT_SUPPORTED', `Crier registers its own app on each ${req.params.platform} instance`);
      const workspaceId = workspaceOf(req);
      await saveApp(ctx.db, ctx, { workspaceId, platform: req.params.platform, instanceUrl: null, app: { clientId: req.body.client_id, clientSecret: req.body.client_secret } });
      const { rows } = await ctx.db.query<AppRow>('SELECT platform, client_id, instance_url, created_at, updated_at FROM oauth_apps WHERE workspace_id = $1 AND platform = $2', [workspaceId, req.params.platform]);
      return view(rows[0]!);
    },
  );

  app.get(
    '/v1/apps',
    { config: { auth: 'workspace' }, schema: { tags, summary: "List the workspace's own apps", querystring: Type.Object({}, { additionalProperties: false }), response: { 200: Type.Object({ data: Type.Array(App) }), ...errorResponses(400, 401, 403) } } },
    async (req) => {
      const { rows } = await ctx.db.query<AppRow>('SELECT platform, client_id, instance_url, created_at, updated_at FROM oauth_apps WHERE workspace_id = $1 ORDER BY platform', [workspaceOf(req)]);
      return { data: rows.map(view) };
    },
  );

  app.delete<{ Params: { platform: string } }>(
    '/v1/apps/:platform',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: { tags, summary: "Stop using the workspace's own app (new connections use the operator's)", params: Params, response: { 204: Type.Null(), ...errorResponses(401, 403, 404, 409) } },
    },
    async (req, reply) => {
      const workspaceId = workspaceOf(req);
      const { rows } = await ctx.db.query<{ id: string }>('SELECT id FROM oauth_apps WHERE workspace_id = $1 AND platform = $2', [workspaceId, req.params.platform]);
      if (!rows[0]) throw notFound('app');
      const used = await ctx.db.query(`SELECT 1 FROM accounts WHERE app_id = $1 AND status <> 'disconnected' LIMIT 1`, [rows[0].id]);
      if (used.rowCount) throw new ApiError('APP_IN_USE', 'connected accounts refresh their tokens with this app; disconnect them first');
      await ctx.db.query('UPDATE accounts SET app_id = NULL WHERE app_id = $1', [rows[0].id]);
      await ctx.db.query('DELETE FROM oauth_apps WHERE id = $1', [rows[0].id]);
      return reply.code(204).send();
    },
  );
}
