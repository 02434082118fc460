// Reddit's answers to classified connector errors (platforms.md §10 "Errors"). Two shapes:
// - HTTP errors `{"message": "Unauthorized", "error": 401}` (403s about a subreddit add a `reason`:
//   private, banned, quarantined, gold_only); a token without the scope a route needs is a 403 whose
//   WWW-Authenticate says `error="insufficient_scope"` (401s say `invalid_token`).
// - Refusals of a submission, inside an HTTP 200: `{"json": {"errors": [[CODE, message, field]…]}}`.
//   RATELIMIT is the per-account posting throttle ("try again in 9 minutes"); Reddit also puts the wait
//   in seconds as `json.ratelimit`, which is preferred when present.
import { retryAfterMs, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

export type SubmitErrorTuple = [string, string, string | null];

type HttpBody = { message?: string; error?: number | string; reason?: string; explanation?: string };

/** The wait a 429 asks for: X-Ratelimit-Reset is the seconds left in Reddit's window (not an epoch). */
function quotaWait(res: HttpResponse, now: Date): number {
  const reset = res.headers.get('x-ratelimit-reset');
  if (reset && /^\d+(\.\d+)?$/.test(reset.trim())) return Math.max(1000, Math.ceil(Number(reset) * 1000));
  return retryAfterMs(res.headers, now) ?? 60_000;
}

/** An HTTP-level refusal of `what` (e.g. "r/pics about", "the submission"). */
export function mapRedditHttp(res: HttpResponse, now: Date, what: string): ConnectorError {
  const body = (res.body ?? {}) as HttpBody;
  const said = [body.message, body.reason, body.explanation].filter((s) => typeof s === 'string' && s).join(', ') || res.text.slice(0, 200) || `HTTP ${res.status}`;
  const base = { platformCode: typeof body.reason === 'string' ? body.reason : `http_${res.status}`, message: `Reddit refused ${what}: ${said}` };
  const fail = (category: ConnectorError['category'], code: string, retryable = false): ConnectorError => ({ ...base, category, code, retryable });
  if (res.status === 429) return { ...fail('rate_limited', 'PLATFORM_RATE_LIMITED', true), retryAfterMs: quotaWait(res, now) };
  if (res.status === 401) return fail('auth_expired', 'PLATFORM_AUTH_EXPIRED');
  if (res.status >= 500) return { ...fail('transient', 'PLATFORM_UNAVAILABLE', true), retryAfterMs: retryAfterMs(res.headers, now) };
  if (res.status === 403) {
    if (/insufficient_scope/i.test(res.headers.get('www-authenticate') ?? '')) {
      return { ...fail('auth_expired', 'PLATFORM_AUTH_EXPIRED'), platformCode: 'insufficient_scope', message: `Reddit refused ${what}: the account's token lacks a scope Crier needs; reconnect the account` };
    }
    // A private, quarantined or members-only subreddit, a ban from it, or a suspended account: the
    // account itself may be fine elsewhere, so it is not disconnected.
    return fail('permanent', 'PLATFORM_ERROR');
  }
  if (res.status === 404) return fail('invalid_content', 'CONTENT_REJECTED');
  if (res.status === 400 || res.status === 413 || res.status === 422) return fail('invalid_content', 'CONTENT_REJECTED');
  return fail('permanent', 'PLATFORM_ERROR');
}

/** "try again in 9 minutes", "Take a break for 30 seconds", "in 1 hour": the wait in ms. */
export function waitFromMessage(message: string): number | undefined {
  const m = /(\d+)\s*(second|minute|hour|milliseconds?)/i.exec(message);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  if (unit.startsWith('milli')) return n;
  return n * (unit === 'second' ? 1000 : unit === 'minute' ? 60_000 : 3_600_000);
}

/** The first refusal in `json.errors` of a 200 answer, classified. */
export function mapSubmitErrors(errors: SubmitErrorTuple[], ratelimitSeconds: unknown): ConnectorError {
  // The throttle wins: other codes in the same answer would come back after the wait anyway.
  const limited = errors.find((e) => e[0] === 'RATELIMIT');
  const [code, message, field] = limited ?? errors[0]!;
  const where = field ? ` (${code} on ${field})` : ` (${code})`;
  const base = { platformCode: code, message: `Reddit refused the post: ${message}${where}`, retryable: false };
  switch (code) {
    case 'RATELIMIT': {
      const wait = typeof ratelimitSeconds === 'number' && ratelimitSeconds > 0 ? Math.ceil(ratelimitSeconds * 1000) : waitFromMessage(message);
      return { ...base, category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true, retryAfterMs: wait ?? 10 * 60_000 };
    }
    case 'ALREADY_SUB':
      return { ...base, category: 'duplicate', code: 'DUPLICATE_CONTENT', message: `${base.message}; set options.reddit.resubmit to post the link again` };
    case 'USER_REQUIRED':
      return { ...base, category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED' };
    case 'SUBREDDIT_NOTALLOWED':
    case 'SUBREDDIT_NOEXIST':
    case 'BANNED_FROM_SUBREDDIT':
      return { ...base, category: 'permanent', code: 'PLATFORM_ERROR' };
    default:
      // NO_SELFS, NO_LINKS, TOO_LONG, BAD_URL, SUBMIT_VALIDATION_*…: this post breaks a rule; sending it
      // again unchanged fails the same way.
      return { ...base, category: 'invalid_content', code: 'CONTENT_REJECTED' };
  }
}
