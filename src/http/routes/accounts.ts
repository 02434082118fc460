// Accounts of the calling workspace. Sandbox accounts are backed by Crier's platform simulators; OAuth
// connections arrive with the "Real connectors" issue.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { getAccount, listAccounts } from '../../db/queries/accounts.js';
import { PLATFORMS } from '../../connectors/types.js';
import { isId } from '../../lib/ids.js';
import { disconnectAccount, provisionSandboxAccount, saveSandboxAccount } from '../../services/accounts.js';
import { withTransaction } from '../../db/pool.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { idempotent } from '../idempotency.js';
import { Pagination, errorResponses, page } from '../schemas.js';
import { accountView, decodeCursor, encodeCursor } from '../views.js';

const tags = ['accounts'];
const Platform = Type.Union(PLATFORMS.map((p) => Type.Literal(p)));
const Params = Type.Object({ id: Type.String() });

const CreateAccount = Type.Object(
  {
    platform: Platform,
    sandbox: Type.Literal(true, { description: 'Only sandbox accounts are created this way; real ones connect by OAuth.' }),
    username: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9-]{0,29}$', description: 'Letters, digits and dashes, up to 30.' }),
  },
  { additionalProperties: false },
);

export function registerAccountRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {
  app.post<{ Body: { platform: string; sandbox: true; username: string } }>(
    '/v1/accounts',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: { tags, summary: 'Connect a sandbox account', body: CreateAccount, response: { 201: Type.Ref('Account'), ...errorResponses(400, 401, 403, 409, 422, 502) } },
    },
    async (req, reply) => {
      const workspaceId = workspaceOf(req);
      return idempotent(ctx.db, req, reply, async (tx) => {
        // Inside the idempotency transaction, so a replayed request never creates a second simulator account.
        const created = await provisionSandboxAccount(ctx, req.body);
        const account = await saveSandboxAccount(tx, ctx, workspaceId, req.body.platform, created);
        return { status: 201, body: accountView(account) };
      });
    },
  );

  app.get<{ Querystring: { platform?: string; status?: string; limit?: number; cursor?: string } }>(
    '/v1/accounts',
    {
      config: { auth: 'workspace' },
      schema: {
        tags,
        summary: 'List accounts',
        querystring: Type.Object({ platform: Type.Optional(Platform), status: Type.Optional(Type.Union([Type.Literal('connected'), Type.Literal('reconnect_required'), Type.Literal('disconnected')])), ...Pagination }, { additionalProperties: false }),
        response: { 200: page(Type.Ref('Account')), ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 20;
      const after = req.query.cursor !== undefined ? decodeCursor(req.query.cursor, (id) => isId('account', id)) : undefined;
      if (req.query.cursor !== undefined && !after) throw new ApiError('CURSOR_INVALID', 'invalid cursor');
      const rows = await listAccounts(ctx.db, workspaceOf(req), { platform: req.query.platform, status: req.query.status, after, limit: limit + 1 });
      const data = rows.slice(0, limit);
      return { data: data.map(accountView), next_cursor: rows.length > limit ? encodeCursor(data.at(-1)!.id) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/accounts/:id',
    { config: { auth: 'workspace' }, schema: { tags, summary: 'Get an account', params: Params, response: { 200: Type.Ref('Account'), ...errorResponses(401, 403, 404) } } },
    async (req) => {
      const account = isId('account', req.params.id) ? await getAccount(ctx.db, workspaceOf(req), req.params.id) : undefined;
      if (!account) throw notFound('account');
      return accountView(account);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/accounts/:id',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Disconnect an account',
        description: 'Forgets its credentials. Its scheduled publications fail with ACCOUNT_DISCONNECTED (one whose last attempt may have published becomes unconfirmed).',
        params: Params,
        response: { 200: Type.Ref('Account'), ...errorResponses(401, 403, 404) },
      },
    },
    async (req) => {
      if (!isId('account', req.params.id)) throw notFound('account');
      const account = await withTransaction(ctx.db, (tx) => disconnectAccount(tx, workspaceOf(req), req.params.id, 'disconnected through the API'));
      return accountView(account);
    },
  );
}
