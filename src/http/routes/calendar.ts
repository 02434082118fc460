// The calendar: every post that is or was going out in a window (scheduled, queued, awaiting approval,
// publishing, published, failed…; not drafts without a time, not cancelled ones), grouped by local day in a
// given zone, with each publication's status. One query on (workspace_id, scheduled_at); no cursor.
import type { FastifyInstance } from 'fastify';
import { IANAZone } from 'luxon';
import { Type } from 'typebox';
import { isValidTimeZone, resolveInstant } from '../../domain/time.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { ApiError } from '../errors.js';
import { errorResponses, nullable } from '../schemas.js';

const tags = ['calendar'];
const MAX_DAYS = 92;
const MAX_POSTS = 20_000;
const SUMMARY_CHARS = 200;

const CalendarPost = Type.Object({
  id: Type.String(),
  status: Type.String(),
  summary: Type.String({ description: `The text's first ${SUMMARY_CHARS} characters.` }),
  scheduled_at: Type.String({ format: 'date-time' }),
  local_time: Type.String({ description: 'HH:MM in the requested zone.' }),
  queue_id: nullable(Type.String()),
  publications: Type.Array(Type.Object({ id: Type.String(), account_id: Type.String(), platform: Type.String(), status: Type.String(), url: nullable(Type.String()) })),
});

type Row = { id: string; status: string; text: string; scheduled_at: Date; queue_id: string | null; pub_ids: string[]; accounts: string[]; platforms: string[]; statuses: string[]; urls: (string | null)[] };

export function registerCalendarRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {
  app.get<{ Querystring: { from: string; to: string; timezone?: string } }>(
    '/v1/calendar',
    {
      config: { auth: 'workspace' },
      schema: {
        tags,
        summary: 'Posts in a window, by local day',
        querystring: Type.Object(
          {
            from: Type.String({ maxLength: 64, description: 'RFC 3339 with an offset, or a local date-time read in `timezone`.' }),
            to: Type.String({ maxLength: 64, description: `Exclusive; at most ${MAX_DAYS} days after from.` }),
            timezone: Type.Optional(Type.String({ maxLength: 64, description: 'IANA zone the days are cut in (default UTC).' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ timezone: Type.String(), from: Type.String(), to: Type.String(), days: Type.Array(Type.Object({ date: Type.String(), posts: Type.Array(CalendarPost) })) }),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (req) => {
      const zone = req.query.timezone ?? 'UTC';
      if (!isValidTimeZone(zone)) throw new ApiError('TIMEZONE_INVALID', `"${zone}" is not an IANA time zone`);
      const at = (v: string) => {
        const r = resolveInstant(v, zone);
        if (!r.ok) throw new ApiError(r.problem.code, r.problem.message);
        return r.at;
      };
      const from = at(req.query.from);
      const to = at(req.query.to);
      if (to <= from || to.getTime() - from.getTime() > MAX_DAYS * 86_400_000) {
        throw new ApiError('VALIDATION_FAILED', `"to" must be after "from", at most ${MAX_DAYS} days later`, [{ field: 'querystring.to', message: 'out of range' }]);
      }
      const { rows } = await ctx.db.query<Row>(
        // One join and plain arrays: measured (bench/calendar.ts) faster than a json_agg subquery per post.
        `SELECT p.id, p.status, left(p.text, ${SUMMARY_CHARS}) AS text, p.scheduled_at, p.queue_id,
                array_agg(x.id ORDER BY x.id) AS pub_ids, array_agg(x.account_id ORDER BY x.id) AS accounts,
                array_agg(x.platform ORDER BY x.id) AS platforms, array_agg(x.status ORDER BY x.id) AS statuses,
                array_agg(x.platform_url ORDER BY x.id) AS urls
         FROM posts p JOIN publications x ON x.post_id = p.id
         WHERE p.workspace_id = $1 AND p.scheduled_at >= $2 AND p.scheduled_at < $3 AND p.status NOT IN ('draft', 'cancelled')
         GROUP BY p.id
         ORDER BY p.scheduled_at, p.id
         LIMIT ${MAX_POSTS + 1}`,
        [workspaceOf(req), from, to],
      );
      if (rows.length > MAX_POSTS) throw new ApiError('VALIDATION_FAILED', `more than ${MAX_POSTS} posts in this window; ask for a shorter one`, [{ field: 'querystring.to', message: 'window too large' }]);
      // The zone's offset at each instant (cheap, from the zone's rules) rather than a DateTime per post.
      const tz = IANAZone.create(zone);
      const days = new Map<string, object[]>();
      for (const r of rows) {
        const ms = r.scheduled_at.getTime();
        const local = new Date(ms + tz.offset(ms) * 60_000).toISOString();
        const date = local.slice(0, 10);
        if (!days.has(date)) days.set(date, []);
        days.get(date)!.push({
          id: r.id,
          status: r.status,
          summary: r.text,
          scheduled_at: r.scheduled_at.toISOString(),
          local_time: local.slice(11, 16),
          queue_id: r.queue_id,
          publications: r.pub_ids.map((id, i) => ({ id, account_id: r.accounts[i]!, platform: r.platforms[i]!, status: r.statuses[i]!, url: r.urls[i] ?? null })),
        });
      }
      return { timezone: zone, from: from.toISOString(), to: to.toISOString(), days: [...days].map(([date, posts]) => ({ date, posts })) };
    },
  );
}
