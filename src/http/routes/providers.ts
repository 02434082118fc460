// Aggregator providers (Post for Me, LATE) as delivery routes: a workspace stores its keys in failover
// order, opens the provider's page to connect social accounts there, and imports them as Crier accounts
// (route "provider:<name>"). Keys are write-only: stored encrypted, shown by their last four characters.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PLATFORMS, type PlatformId } from '../../connectors/types.js';
import { PROVIDERS, type ProviderName } from '../../providers/types.js';
import { deleteProviderKey, listProviderKeys, providerConnectUrl, providerKeyView, saveProviderKey, syncProviderAccounts } from '../../services/providers.js';
import { getAccountsByIds } from '../../db/queries/accounts.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { errorResponses, literalUnion } from '../schemas.js';
import { accountView } from '../views.js';

const tags = ['providers'];
const Params = Type.Object({ provider: literalUnion(PROVIDERS) });
const ProviderKey = Type.Object({
  provider: literalUnion(PROVIDERS),
  position: Type.Integer({ description: 'Failover order among the workspace\'s keys (1 first); the operator\'s keys come after all of them.' }),
  sandbox: Type.Boolean({ description: "A key of Crier's simulator of the provider." }),
  key_hint: Type.String({ description: "The key's last four characters." }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export function registerProviderRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {
  app.get(
    '/v1/providers',
    {
      config: { auth: 'workspace' },
      schema: {
        tags,
        summary: "List the workspace's provider keys in failover order",
        querystring: Type.Object({}, { additionalProperties: false }),
        response: { 200: Type.Object({ data: Type.Array(ProviderKey), operator_fallback: Type.Array(literalUnion(PROVIDERS), { description: 'Providers for which the operator configured a global key, tried after the workspace\'s own.' }) }), ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => ({
      data: (await listProviderKeys(ctx.db, workspaceOf(req))).map(providerKeyView),
      operator_fallback: PROVIDERS.filter((p) => ctx.config.providers[p].operatorKey),
    }),
  );

  app.put<{ Params: { provider: ProviderName }; Body: { api_key?: string; sandbox?: boolean; position?: number } }>(
    '/v1/providers/:provider',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Store the workspace\'s key for a provider (or make a sandbox one)',
        description: 'Give `api_key` (a key of your account on the provider) or `sandbox: true` (a key of Crier\'s simulator of it). `position` sets the failover order (default: after the existing keys).',
        params: Params,
        body: Type.Object(
          {
            api_key: Type.Optional(Type.String({ minLength: 8, maxLength: 500 })),
            sandbox: Type.Optional(Type.Literal(true)),
            position: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ProviderKey, 201: ProviderKey, ...errorResponses(400, 401, 403, 404, 413, 415, 422, 502) },
      },
    },
    async (req, reply) => {
      const saved = await saveProviderKey(ctx, workspaceOf(req), req.params.provider, req.body);
      return reply.code(saved.created ? 201 : 200).send(providerKeyView(saved.key));
    },
  );

  app.delete<{ Params: { provider: ProviderName } }>(
    '/v1/providers/:provider',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: { tags, summary: "Remove the workspace's key for a provider", description: 'Accounts imported through it stay; they publish through the remaining routes.', params: Params, response: { 204: Type.Null(), ...errorResponses(401, 403, 404) } },
    },
    async (req, reply) => {
      await deleteProviderKey(ctx, workspaceOf(req), req.params.provider);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { provider: ProviderName }; Body: { platform: PlatformId; redirect_url: string } }>(
    '/v1/providers/:provider/connect',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: "Start connecting a social account on the provider (its own OAuth page)",
        description: 'Send the user to `url`; the provider returns them to `redirect_url`. Then import the account with POST /v1/providers/{provider}/sync.',
        params: Params,
        body: Type.Object({ platform: literalUnion(PLATFORMS), redirect_url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048, description: 'Where the provider sends the user back.' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ url: Type.String() }), ...errorResponses(400, 401, 403, 404, 413, 415, 502) },
      },
    },
    async (req) => {
      return { url: await providerConnectUrl(ctx, workspaceOf(req), req.params.provider, req.body.platform, req.body.redirect_url) };
    },
  );

  app.post<{ Params: { provider: ProviderName } }>(
    '/v1/providers/:provider/sync',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Import the accounts connected on the provider',
        description: 'Each becomes (or updates) a Crier account with `route: "provider:<name>"`; an imported account the provider no longer lists becomes `reconnect_required`.',
        params: Params,
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('Account')) }), ...errorResponses(401, 403, 404, 502) },
      },
    },
    async (req) => {
      const workspaceId = workspaceOf(req);
      const ids = await syncProviderAccounts(ctx, workspaceId, req.params.provider);
      return { data: (await getAccountsByIds(ctx.db, workspaceId, ids)).map(accountView) };
    },
  );
}
