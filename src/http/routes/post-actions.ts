// Releasing a post: publish a draft (or a scheduled post) now, or (re)schedule it.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { withTransaction } from '../../db/pool.js';
import { isId } from '../../lib/ids.js';
import { postMediaOptions } from '../../services/media-files.js';
import { schedulePost } from '../../services/edit-post.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { notFound } from '../errors.js';
import { errorResponses } from '../schemas.js';
import { postView } from '../views.js';
import { ScheduledAt, Timezone } from './posts.js';

const tags = ['posts'];
const Params = Type.Object({ id: Type.String() });
const Schedule = Type.Object({ scheduled_at: ScheduledAt, timezone: Type.Optional(Timezone) }, { additionalProperties: false });

export function registerPostActionRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {

  app.post<{ Params: { id: string } }>(
    '/v1/posts/:id/publish',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: { tags, summary: 'Publish a draft or scheduled post now', params: Params, response: { 200: Type.Ref('Post'), ...errorResponses(401, 403, 404, 409) } },
    },
    async (req) => {
      const workspaceId = workspaceOf(req);
      if (!isId('post', req.params.id)) throw notFound('post');
      const { post, publications } = await withTransaction(ctx.db, (tx) => schedulePost(tx, workspaceId, req.params.id, { now: true }, ctx.clock.now(), postMediaOptions(ctx)));
      return postView(post, publications);
    },
  );

  app.post<{ Params: { id: string }; Body: { scheduled_at: string; timezone?: string } }>(
    '/v1/posts/:id/schedule',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: { tags, summary: 'Schedule a draft, or move a scheduled post to another time', params: Params, body: Schedule, response: { 200: Type.Ref('Post'), ...errorResponses(400, 401, 403, 404, 409) } },
    },
    async (req) => {
      const workspaceId = workspaceOf(req);
      if (!isId('post', req.params.id)) throw notFound('post');
      const { post, publications } = await withTransaction(ctx.db, (tx) => schedulePost(tx, workspaceId, req.params.id, req.body, ctx.clock.now(), postMediaOptions(ctx)));
      return postView(post, publications);
    },
  );
}
