// Operator routes: workspaces and their API keys. An operator key never reads tenant content.
import type { FastifyInstance } from 'fastify';
import type { WorkspaceRow } from '../../db/queries/workspaces.js';
import { Type } from 'typebox';
import { getWorkspace, insertWorkspace, listWorkspaces } from '../../db/queries/workspaces.js';
import { listWorkspaceKeys, revokeWorkspaceKey } from '../../db/queries/api-keys.js';
import { withTransaction } from '../../db/pool.js';
import { insertEvents } from '../../db/queries/events.js';
import { isId, newId } from '../../lib/ids.js';
import { createWorkspaceKey } from '../../services/workspaces.js';
import type { RouteDeps } from '../app.js';
import { WORKSPACE_SCOPES } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { idempotent } from '../idempotency.js';
import { Pagination, errorResponses, page } from '../schemas.js';
import { apiKeyView, decodeCursor, encodeCursor, workspaceView } from '../views.js';

const tags = ['workspaces'];
const operator = { auth: 'operator' as const };
const WorkspaceParams = Type.Object({ id: Type.String() });

const approvalSetting = Type.Boolean({ description: 'Posts of this workspace wait for approval (a key with the `approve` scope, or a reviewer link) before they publish. Default false; a post may set its own.' });
const CreateWorkspace = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), requires_approval: Type.Optional(approvalSetting) }, { additionalProperties: false });
const UpdateWorkspace = Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), requires_approval: Type.Optional(approvalSetting) }, { additionalProperties: false, minProperties: 1 });
const CreateKey = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    scopes: Type.Optional(
      Type.Array(Type.Union(WORKSPACE_SCOPES.map((s) => Type.Literal(s))), {
        minItems: 1,
        uniqueItems: true,
        description: '`read`, `write` (implies read), `approve` (approve or reject posts awaiting approval; implies read). Default: read and write. `["read"]` makes a read-only key.',
      }),
    ),
  },
  { additionalProperties: false },
);
const CreatedKey = Type.Intersect([Type.Ref('ApiKey'), Type.Object({ key: Type.String({ description: 'The secret. Shown only in this response.' }) })]);

export function registerWorkspaceRoutes(app: FastifyInstance, { ctx, keyVerifier }: RouteDeps): void {
  const requireWorkspace = async (id: string) => {
    const ws = isId('workspace', id) ? await getWorkspace(ctx.db, id) : undefined;
    if (!ws) throw notFound('workspace');
    return ws;
  };

  app.patch<{ Params: { id: string }; Body: { name?: string; requires_approval?: boolean } }>(
    '/v1/workspaces/:id',
    { config: operator, schema: { tags, summary: "Rename a workspace or change its approval setting", params: WorkspaceParams, body: UpdateWorkspace, response: { 200: Type.Ref('Workspace'), ...errorResponses(400, 401, 403, 404) } } },
    async (req) => {
      await requireWorkspace(req.params.id);
      const { rows } = await ctx.db.query<WorkspaceRow>(
        'UPDATE workspaces SET name = coalesce($2, name), requires_approval = coalesce($3, requires_approval), updated_at = now() WHERE id = $1 RETURNING *',
        [req.params.id, req.body.name ?? null, req.body.requires_approval ?? null],
      );
      return workspaceView(rows[0]!);
    },
  );

  app.post<{ Body: { name: string; requires_approval?: boolean } }>(
    '/v1/workspaces',
    { config: operator, schema: { tags, summary: 'Create a workspace', body: CreateWorkspace, response: { 201: Type.Ref('Workspace'), ...errorResponses(400, 401, 403, 409) } } },
    async (req, reply) =>
      idempotent(ctx.db, req, reply, async (tx) => {
        const ws = await insertWorkspace(tx, newId('workspace'), req.body.name, req.body.requires_approval ?? false);
        return { status: 201, body: workspaceView(ws) };
      }),
  );

  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/v1/workspaces',
    { config: operator, schema: { tags, summary: 'List workspaces', querystring: Type.Object(Pagination, { additionalProperties: false }), response: { 200: page(Type.Ref('Workspace')), ...errorResponses(400, 401, 403) } } },
    async (req) => {
      const limit = req.query.limit ?? 20;
      const after = req.query.cursor !== undefined ? decodeCursor(req.query.cursor, (id) => isId('workspace', id)) : undefined;
      if (req.query.cursor !== undefined && !after) throw new ApiError('CURSOR_INVALID', 'invalid cursor');
      const rows = await listWorkspaces(ctx.db, { after, limit: limit + 1 });
      const more = rows.length > limit;
      const data = rows.slice(0, limit);
      return { data: data.map(workspaceView), next_cursor: more ? encodeCursor(data.at(-1)!.id) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/workspaces/:id',
    { config: operator, schema: { tags, summary: 'Get a workspace', params: WorkspaceParams, response: { 200: Type.Ref('Workspace'), ...errorResponses(401, 403, 404) } } },
    async (req) => workspaceView(await requireWorkspace(req.params.id)),
  );

  app.post<{ Params: { id: string }; Body: { name: string; scopes?: string[] } }>(
    '/v1/workspaces/:id/api_keys',
    {
      config: operator,
      schema: { tags, summary: 'Create a workspace API key (the secret is returned once)', params: WorkspaceParams, body: CreateKey, response: { 201: CreatedKey, ...errorResponses(400, 401, 403, 404, 409) } },
    },
    async (req, reply) => {
      await requireWorkspace(req.params.id);
      // The replay of a retried creation holds the secret, so it is stored encrypted.
      return idempotent(
        ctx.db,
        req,
        reply,
        async (tx) => {
          const { key, secret } = await createWorkspaceKey(tx, req.params.id, req.body.name, req.body.scopes ?? ['read', 'write']);
          await insertEvents(tx, [{ workspaceId: req.params.id, type: 'api_key.created', data: { api_key_id: key.id, name: key.name, scopes: key.scopes } }]);
          return { status: 201, body: { ...apiKeyView(key), key: secret } };
        },
        { sealWith: ctx.keyRing },
      );
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/workspaces/:id/api_keys',
    { config: operator, schema: { tags, summary: "List a workspace's API keys (never the secrets)", params: WorkspaceParams, response: { 200: Type.Object({ data: Type.Array(Type.Ref('ApiKey')) }), ...errorResponses(401, 403, 404) } } },
    async (req) => {
      await requireWorkspace(req.params.id);
      return { data: (await listWorkspaceKeys(ctx.db, req.params.id)).map(apiKeyView) };
    },
  );

  app.delete<{ Params: { id: string; key_id: string } }>(
    '/v1/workspaces/:id/api_keys/:key_id',
    {
      config: operator,
      schema: { tags, summary: 'Revoke an API key (immediately)', params: Type.Object({ id: Type.String(), key_id: Type.String() }), response: { 200: Type.Ref('ApiKey'), ...errorResponses(401, 403, 404) } },
    },
    async (req) => {
      await requireWorkspace(req.params.id);
      const key = isId('apiKey', req.params.key_id)
        ? await withTransaction(ctx.db, async (tx) => {
            const revoked = await revokeWorkspaceKey(tx, req.params.id, req.params.key_id);
            if (revoked) await insertEvents(tx, [{ workspaceId: req.params.id, type: 'api_key.revoked', data: { api_key_id: revoked.id } }]);
            return revoked;
          })
        : undefined;
      if (!key) throw notFound('API key');
      keyVerifier.forget();
      return apiKeyView(key);
    },
  );
}

