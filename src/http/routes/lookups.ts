// GET /v1/accounts/{id}/lookups/{name}: what a user asks the platform before writing a post's options
// (Pinterest boards, TikTok creator info, a subreddit's requirements). The answer is the platform's
// information in Crier's words, fetched live with the account's own tokens.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { runLookup } from '../../services/lookups.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { errorResponses } from '../schemas.js';

export function registerLookupRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {
  app.get<{ Params: { id: string; name: string }; Querystring: Record<string, string> }>(
    '/v1/accounts/:id/lookups/:name',
    {
      config: { auth: 'workspace' },
      schema: {
        tags: ['accounts'],
        summary: 'Ask the platform something an option needs (boards, creator info, subreddit rules)',
        description: 'Lookups by platform: pinterest `boards`; tiktok `creator_info`; reddit `subreddit?name=`. The answer comes live from the platform with the account\'s tokens.',
        params: Type.Object({ id: Type.String(), name: Type.String({ pattern: '^[a-z_]{1,40}$' }) }),
        querystring: Type.Record(Type.String(), Type.String({ maxLength: 200 })),
        response: { 200: Type.Object({ data: Type.Unknown() }), ...errorResponses(400, 401, 403, 404, 409, 422, 502) },
      },
    },
    async (req) => ({ data: await runLookup(ctx, workspaceOf(req), req.params.id, req.params.name, req.query) }),
  );
}
