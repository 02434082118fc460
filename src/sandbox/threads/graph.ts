// Pieces of the Graph API's manners the Threads simulator shares: its error object, where a token may be
// sent (the access_token parameter in the query or the form body, or a Bearer header), `fields` selection
// with Graph's refusal of unknown fields, and the simulator's settings.
import { decodeJwt } from 'jose';
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export type ThreadsSimConfig = {
  /** Pulled files over these sizes fail processing (platforms.md §5: images 8 MB, videos 1 GB). */
  imageMaxBytes: number;
  videoMaxBytes: number;
  fetchTimeoutMs: number;
  /** How long a container stays IN_PROGRESS (after its file was fetched, for media). */
  processingMs: { TEXT: number; IMAGE: number; VIDEO: number; CAROUSEL: number };
  /** Unpublished containers expire after 24 h. */
  containerTtlSec: number;
  /** Per profile per rolling 24 h: 250 posts (a carousel is one), 1,000 replies. */
  publishQuota: number;
  replyQuota: number;
  shortTtlSec: number;
  longTtlSec: number;
  /** th_refresh_token takes a long-lived token only once it is this old (docs: 24 h). */
  refreshMinAgeSec: number;
};

export const DEFAULT_CONFIG: ThreadsSimConfig = {
  imageMaxBytes: 8_000_000,
  videoMaxBytes: 1_000_000_000,
  fetchTimeoutMs: 30_000,
  processingMs: { TEXT: 0, IMAGE: 150, VIDEO: 800, CAROUSEL: 0 },
  containerTtlSec: 86_400,
  publishQuota: 250,
  replyQuota: 1_000,
  shortTtlSec: 3_600,
  longTtlSec: 5_184_000,
  refreshMinAgeSec: 86_400,
};

export function graphError(reply: FastifyReply, status: number, code: number, message: string, extra: Record<string, unknown> = {}) {
  return reply.code(status).send({ error: { message, type: 'OAuthException', code, ...extra, fbtrace_id: randomBytes(8).toString('base64url') } });
}

/** "(#100) … does not exist": Graph's answer for an id that is unknown or not the caller's to read. */
export function noSuchObject(reply: FastifyReply, id: string) {
  return graphError(reply, 400, 100, `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`, { error_subcode: 33 });
}

export function params(req: FastifyRequest): Record<string, string | undefined> {
  const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries({ ...(req.query as Record<string, unknown>), ...body })) out[k] = v === undefined || v === null ? undefined : String(v);
  return out;
}

export function tokenOf(req: FastifyRequest): string | undefined {
  const p = params(req);
  if (p['access_token']) return p['access_token'];
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return bearer?.[1];
}

/** The Threads user behind a request (for per-account faults and the request log). */
export function accountOf(req: FastifyRequest): string | undefined {
  try {
    const token = tokenOf(req);
    return token ? decodeJwt(token).sub : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Graph's field selection: only the fields asked for (just `id` when none is), and an error naming a
 * field the node type does not have. Returns undefined after answering the request with that error.
 */
export function select(reply: FastifyReply, node: string, known: Record<string, unknown>, fields: string | undefined): Record<string, unknown> | undefined {
  const wanted = (fields ?? 'id').split(',').map((f) => f.trim()).filter(Boolean);
  const out: Record<string, unknown> = {};
  for (const f of wanted) {
    if (!(f in known)) {
      graphError(reply, 400, 100, `(#100) Tried accessing nonexisting field (${f}) on node type (${node})`);
      return undefined;
    }
    if (known[f] !== undefined) out[f] = known[f];
  }
  return out;
}
