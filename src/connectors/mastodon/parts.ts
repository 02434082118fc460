// What one publication is on Mastodon: the main status and, for a thread, the follow-ups, each a reply to
// the one before (threads-note.md). The content warning, visibility, sensitivity and language apply to every
// status of the thread, as Mastodon's own composer carries them over to a reply. Also: which instance an
// account's calls go to, and how a `reply_to` option becomes a status id.
import { err, ok, type Result } from '../../lib/result.js';
import type { ConnectorCtx, ConnectorError, PublicationDraft } from '../types.js';
import type { MastodonCredentials } from './auth.js';
import * as client from './client.js';
import { mapMastodonError } from './errors.js';

export type Ctx = ConnectorCtx<MastodonCredentials>;

export const VISIBILITIES = ['public', 'unlisted', 'private', 'direct'] as const;

export type MastodonOptions = {
  text?: string;
  visibility?: (typeof VISIBILITIES)[number];
  spoiler_text?: string;
  sensitive?: boolean;
  language?: string;
  reply_to?: string;
  thread?: { text: string }[];
};

/** What a publication has got so far: its checkpoint, and a Pending's ref. */
export type MastodonState = {
  /** Status ids published so far: the main status first, then each reply of the thread. */
  posted: string[];
  /** The main status's URL once known. */
  url?: string;
  /** The main status's attachments uploaded so far, in order, and whether each is processed. */
  uploads?: { id: string; ready: boolean }[];
  /** A POST /api/v1/statuses for part `index` left at `at` and its answer was not recorded (yet). */
  sending?: { index: number; at: string };
};


export const partCount = (draft: PublicationDraft) => 1 + ((draft.options as MastodonOptions).thread?.length ?? 0);

export function partText(draft: PublicationDraft, k: number): string {
  return k === 0 ? draft.text : (draft.options as MastodonOptions).thread![k - 1]!.text;
}

/** The instance this account's calls go to: the simulator for sandbox accounts, else the account's own. */
export function apiBase(ctx: Ctx): string {
  return ctx.sandbox || !ctx.credentials.instanceUrl ? ctx.baseUrl : ctx.credentials.instanceUrl;
}

/** The Idempotency-Key of part `k`: stable across attempts of the same publication. */
export const idempotencyKey = (draft: PublicationDraft, k: number) => `crier-${draft.publicationId}-${k}`;

/** A status id, or the id at the end of a status URL (https://instance/@user/123 or …/users/user/statuses/123). */
export function parseReplyTo(value: string): { id: string } | { url: string } | undefined {
  const v = value.trim();
  if (/^\d{1,30}$/.test(v)) return { id: v };
  if (!/^https?:\/\//i.test(v)) return undefined;
  try {
    const u = new URL(v);
    return /\/(?:@[^/]+|users\/[^/]+\/statuses)\/(\d{1,30})\/?$/.test(u.pathname) ? { url: u.toString() } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The local id of the status to reply to. A URL on this account's own instance carries it; a URL of
 * another server is resolved through search (resolve=true), which fetches it into this instance.
 */
export async function replyTarget(ctx: Ctx, draft: PublicationDraft): Promise<Result<string | null, ConnectorError>> {
  const raw = (draft.options as MastodonOptions).reply_to;
  if (raw === undefined) return ok(null);
  const parsed = parseReplyTo(raw);
  const invalid: ConnectorError = { category: 'invalid_content', code: 'CONTENT_REJECTED', message: `reply_to "${raw}" is neither a status id nor a status URL`, retryable: false };
  if (!parsed) return err(invalid);
  if ('id' in parsed) return ok(parsed.id);
  const base = apiBase(ctx);
  const url = new URL(parsed.url);
  if (url.origin === new URL(base).origin || (url.host === new URL(base).host)) return ok(/(\d{1,30})\/?$/.exec(url.pathname)![1]!);
  const sent = await client.resolveStatus(base, ctx.credentials.accessToken, parsed.url, ctx.signal);
  if (!sent.ok) return sent;
  if (sent.value.status !== 200) return err(mapMastodonError(sent.value, ctx.clock.now(), `the search for the status replied to (${parsed.url})`));
  const found = ((sent.value.body as { statuses?: { id?: unknown }[] } | undefined)?.statuses ?? [])[0];
  if (!found || (typeof found.id !== 'string' && typeof found.id !== 'number')) {
    return err({ category: 'invalid_content', code: 'CONTENT_REJECTED', message: `the status to reply to (${parsed.url}) could not be found from this account's instance`, retryable: false });
  }
  return ok(String(found.id));
}
