// The Graph API's manners the Meta simulator follows everywhere: its error object, where a token may travel
// (the access_token parameter, or an `Authorization: Bearer|OAuth` header), versioned paths, and field
// selection with expansion (`instagram_business_account{id,username}`), refusing a field the node does not
// have as Graph does. Also the simulator's settings.
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export type MetaSimConfig = {
  /** Graph versions served: older ones are upgraded to the oldest (as Graph does), newer ones refused. */
  oldestVersion: number;
  newestVersion: number;
  /** User tokens from the code exchange (hours) and from fb_exchange_token (about 60 days). */
  shortTtlSec: number;
  longTtlSec: number;
  fetchTimeoutMs: number;
  /** Facebook photos: under 4 MB, JPEG or PNG (platforms.md §3, unconfirmed). */
  photoMaxBytes: number;
  /** Facebook Page videos pulled by file_url, Reels and video Stories. */
  videoMaxBytes: number;
  /** Reels 3–90 s; a video Story at most 60 s. */
  reelMinMs: number;
  reelMaxMs: number;
  storyVideoMaxMs: number;
  /** 30 API-published Reels per Page per rolling 24 h. */
  reelsPerDay: number;
  /** A Page post with the same message and link as the Page's latest one within this window is a duplicate (506). */
  duplicateWindowSec: number;
  /** Instagram: JPEG ≤ 8 MiB, 4:5–1.91:1 for feed images; Reels ≤ 300 MB, 3 s–15 min. */
  igImageMaxBytes: number;
  igVideoMaxBytes: number;
  igReelMinMs: number;
  igReelMaxMs: number;
  igStoryVideoMaxMs: number;
  /** API-published posts per Instagram account per rolling 24 h (the guide says 100; older pages 50). */
  igPublishQuota: number;
  /** Unpublished containers expire after 24 h. */
  containerTtlSec: number;
  /** How long processing takes once the file was fetched. */
  processingMs: { video: number; reel: number; igVideo: number };
};

export const DEFAULT_CONFIG: MetaSimConfig = {
  oldestVersion: 21,
  newestVersion: 26,
  shortTtlSec: 7_200,
  longTtlSec: 5_184_000,
  fetchTimeoutMs: 30_000,
  photoMaxBytes: 4_000_000,
  videoMaxBytes: 1_000_000_000,
  reelMinMs: 3_000,
  reelMaxMs: 90_000,
  storyVideoMaxMs: 60_000,
  reelsPerDay: 30,
  duplicateWindowSec: 86_400,
  igImageMaxBytes: 8 * 1024 * 1024,
  igVideoMaxBytes: 300_000_000,
  igReelMinMs: 3_000,
  igReelMaxMs: 900_000,
  igStoryVideoMaxMs: 60_000,
  igPublishQuota: 100,
  containerTtlSec: 86_400,
  processingMs: { video: 600, reel: 600, igVideo: 600 },
};

export const freshConfig = (over: Partial<MetaSimConfig> = {}): MetaSimConfig => ({ ...DEFAULT_CONFIG, ...over, processingMs: { ...DEFAULT_CONFIG.processingMs, ...over.processingMs } });

export function graphError(reply: FastifyReply, status: number, code: number, message: string, extra: Record<string, unknown> = {}) {
  return reply.code(status).send({ error: { message, type: extra['type'] ?? 'OAuthException', code, ...extra, fbtrace_id: randomBytes(8).toString('base64url') } });
}

/** Graph's answer for an id that is unknown or not the caller's to read. */
export function noSuchObject(reply: FastifyReply, id: string) {
  return graphError(reply, 400, 100, `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`, { type: 'GraphMethodException', error_subcode: 33 });
}

export const invalidParam = (reply: FastifyReply, message: string, extra: Record<string, unknown> = {}) => graphError(reply, 400, 100, `(#100) ${message}`, extra);

export function permissionError(reply: FastifyReply, missing: string[]) {
  return graphError(reply, 403, 10, `(#10) This endpoint requires the ${missing.map((p) => `'${p}'`).join(' and ')} permission${missing.length > 1 ? 's' : ''}.`);
}

/** The request's parameters: query and form (or JSON) body together, as Graph reads them. */
export function params(req: FastifyRequest): Record<string, string | undefined> {
  const body = req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body) && typeof (req.body as { pipe?: unknown }).pipe !== 'function' ? (req.body as Record<string, unknown>) : {};
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries({ ...(req.query as Record<string, unknown>), ...body })) {
    out[k] = v === undefined || v === null ? undefined : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return out;
}

export function tokenOf(req: FastifyRequest): string | undefined {
  const p = params(req)['access_token'];
  if (p) return p;
  return /^(?:Bearer|OAuth)\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
}

/** "v24.0" → 24; undefined when it is not a Graph version. */
export function versionNumber(v: string | undefined): number | undefined {
  const m = /^v(\d{1,2})\.0$/.exec(v ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Graph's timestamp format: "2024-07-05T12:34:56+0000". */
export const graphTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');

export type FieldSpec = { name: string; sub?: FieldSpec[] };

/** `a,b{c,d{e}}.limit(5),f` → a tree (modifiers such as `.limit()` are accepted and ignored). */
export function parseFields(s: string): FieldSpec[] | undefined {
  let at = 0;
  const list = (): FieldSpec[] | undefined => {
    const out: FieldSpec[] = [];
    for (;;) {
      const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)((?:\.[a-z_]+\([^)]*\))*)\s*/.exec(s.slice(at));
      if (!m) return undefined;
      at += m[0].length;
      const spec: FieldSpec = { name: m[1]! };
      if (s[at] === '{') {
        at++;
        const sub = list();
        if (!sub || s[at] !== '}') return undefined;
        at++;
        spec.sub = sub;
        while (s[at] === '.') {
          const mod = /^\.[a-z_]+\([^)]*\)/.exec(s.slice(at));
          if (!mod) return undefined;
          at += mod[0].length;
        }
      }
      out.push(spec);
      if (s[at] !== ',') return out;
      at++;
    }
  };
  const fields = list();
  return fields && at === s.length ? fields : undefined;
}

/** Node fields: plain values, nested nodes (objects) or connections ({data: [...]}). */
export type Node = Record<string, unknown>;

function pick(node: Node, type: string, specs: FieldSpec[]): { ok: true; value: Node } | { ok: false; field: string; type: string } {
  const out: Node = {};
  for (const f of specs) {
    if (!(f.name in node)) return { ok: false, field: f.name, type };
    const v = node[f.name];
    if (v === undefined) continue;
    if (!f.sub || v === null || typeof v !== 'object') {
      out[f.name] = v;
      continue;
    }
    const conn = v as { data?: unknown };
    if (Array.isArray(conn.data)) {
      const items: Node[] = [];
      for (const item of conn.data as Node[]) {
        const r = pick(item, f.name, f.sub);
        if (!r.ok) return r;
        items.push(r.value);
      }
      out[f.name] = { ...conn, data: items };
    } else {
      const r = pick(v as Node, f.name, f.sub);
      if (!r.ok) return r;
      out[f.name] = r.value;
    }
  }
  return { ok: true, value: out };
}

/**
 * Graph's field selection: only the fields asked for (`id` when none is), nested selections applied.
 * Answers the request with Graph's error and returns undefined for a field the node type does not have.
 */
export function select(reply: FastifyReply, type: string, node: Node, fields: string | undefined): Node | undefined {
  const specs = fields === undefined || fields.trim() === '' ? [{ name: 'id' }] : parseFields(fields);
  if (!specs) {
    invalidParam(reply, `Syntax error "Expected end of string instead of \\"${fields}\\"." at character 0: ${fields}`);
    return undefined;
  }
  const r = pick(node, type, specs);
  if (!r.ok) {
    invalidParam(reply, `Tried accessing nonexisting field (${r.field}) on node type (${r.type})`);
    return undefined;
  }
  return r.value;
}
