// Liveness, readiness (database reachable and a worker heartbeat fresh) and Prometheus metrics.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import type { Metrics } from '../../metrics.js';

export type Health = { metrics: Metrics; heartbeatFreshMs: number };

const Ready = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  database: Type.Boolean(),
  worker: Type.Boolean({ description: 'A worker sent a heartbeat recently.' }),
});

export function registerHealthRoutes(app: FastifyInstance, ctx: AppContext, health: Health): void {
  const tags = ['health'];
  app.get('/health/live', { config: { auth: 'public' }, schema: { tags, response: { 200: Type.Object({ status: Type.Literal('live') }) } } }, async () => ({ status: 'live' as const }));

  app.get('/health/ready', { config: { auth: 'public' }, schema: { tags, response: { 200: Ready, 503: Ready } } }, async (_req, reply) => {
    let database = false;
    let worker = false;
    try {
      const { rows } = await ctx.db.query<{ fresh: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM worker_heartbeats WHERE last_seen_at > now() - make_interval(secs => $1::double precision / 1000)) AS fresh`,
        [health.heartbeatFreshMs],
      );
      database = true;
      worker = rows[0]!.fresh;
    } catch {
      database = false;
    }
    const ok = database && worker;
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', database, worker });
  });

  app.get('/metrics', { config: { auth: 'public' }, schema: { tags, hide: true } }, async (_req, reply) => {
    const body = await health.metrics.registry.metrics();
    return reply.type(health.metrics.registry.contentType).send(body);
  });
}
