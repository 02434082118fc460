// Graph API errors, shared by Facebook Pages and Instagram (platforms.md §3 "Errors", §4 "Errors"): the body
// is {"error":{"message","type","code","error_subcode","error_user_title","error_user_msg","fbtrace_id",
// "is_transient"}}, nearly always with HTTP 400 (403 for some permission errors, 5xx rarely). The code says
// the family, the subcode often says more, so subcodes are read first. Instagram reports media that fails
// while a container is processed through the container's status ("Error: … error code 2207026"), and
// rupload (Reels, Stories) through a `debug_info` object; both end here too.
import { retryAfterMs, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

export type GraphError = {
  message?: string;
  type?: string;
  code?: number | string;
  error_subcode?: number | string;
  error_user_title?: string;
  error_user_msg?: string;
  is_transient?: boolean;
  fbtrace_id?: string;
};

export function graphErrorOf(res: HttpResponse): GraphError | undefined {
  const e = (res.body as { error?: unknown } | undefined)?.error;
  return e && typeof e === 'object' ? (e as GraphError) : undefined;
}

const num = (v: unknown) => (typeof v === 'number' ? v : v === undefined || v === null || v === '' ? Number.NaN : Number(v));

// 190 (and the older 102) is a token Graph no longer takes. Its subcode says why: 463 expired, 467 invalid
// (logged out), 459 checkpoint and 464 unconfirmed user (the person must act on facebook.com) all end in a
// reconnect; 458 (app removed), 460 (password changed) and 492 (no longer a Page admin) take access away.
const REVOKING_SUBCODES = new Set([458, 460, 492]);

/** A token error that a renewal may cure: expired, or invalid without a revoking reason. */
export function isRenewableTokenError(res: HttpResponse): boolean {
  if (res.status < 400) return false;
  const e = graphErrorOf(res);
  if (!e) return res.status === 401;
  const c = num(e.code);
  const sub = num(e.error_subcode);
  return (c === 190 || c === 102) && (Number.isNaN(sub) || sub === 463 || sub === 467);
}

// Throttling: 4 app, 17 user, 32 Page, 341 feed actions, 613 calls within a window, 80001–80014 Business
// Use Case limits.
const THROTTLED = new Set([4, 17, 32, 341, 613]);

/**
 * How long Meta asks to wait: Retry-After when sent (Graph rarely sends one; the simulator's injected 429s
 * do), else the largest `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage,
 * X-Page-Usage or X-App-Usage.
 */
export function metaWaitMs(res: HttpResponse, now: Date): number | undefined {
  const after = retryAfterMs(res.headers, now);
  if (after !== undefined) return after;
  let minutes = 0;
  for (const name of ['x-business-use-case-usage', 'x-page-usage', 'x-app-usage']) {
    const raw = res.headers.get(name);
    if (!raw) continue;
    try {
      const parsed = JSON.parse(raw) as unknown;
      const entries: unknown[] = Array.isArray(parsed) ? parsed : parsed && typeof parsed === 'object' && !('call_count' in parsed) ? Object.values(parsed).flat() : [parsed];
      for (const u of entries) {
        const m = num((u as { estimated_time_to_regain_access?: unknown })?.estimated_time_to_regain_access);
        if (m > minutes) minutes = m;
      }
    } catch {
      // an unreadable header says nothing about the wait
    }
  }
  return minutes > 0 ? minutes * 60_000 : undefined;
}

type Kind = Pick<ConnectorError, 'category' | 'code' | 'retryable'> & { wait?: number };

const content: Kind = { category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false };
const media: Kind = { category: 'media_error', code: 'MEDIA_REJECTED', retryable: false };
const mediaRetry: Kind = { category: 'media_error', code: 'MEDIA_REJECTED', retryable: true };
const transient: Kind = { category: 'transient', code: 'PLATFORM_ERROR', retryable: true };
const permanent: Kind = { category: 'permanent', code: 'PLATFORM_ERROR', retryable: false };
const throttled = (wait: number): Kind => ({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true, wait });

/** Subcodes that decide on their own, whatever the code (Instagram's 2207xxx table, Facebook's 13xxxxx/16xxxxx). */
const BY_SUBCODE: Record<number, Kind> = {
  2207001: { ...transient, code: 'PLATFORM_UNAVAILABLE' }, // server error
  2207003: mediaRetry, // download timed out
  2207032: transient, // create failed, retry
  2207008: { ...transient, wait: 30_000 }, // container temporarily missing
  2207020: transient, // media expired: make the container again
  2207053: transient, // unknown upload error: make the container again
  2207027: { ...transient, wait: 10_000 }, // not ready to publish yet
  2207042: throttled(3_600_000), // the 24-hour publishing limit
  2207051: permanent, // flagged as spam
  2207050: permanent, // account restricted: the user must act in the app
  2207006: permanent, // media not found (permissions or token)
  2207010: content, // caption too long
  2207028: content, // carousel needs 2–10 items
  2207040: content, // more than 20 @tags
  2207004: media, // image over 8 MiB
  2207005: media, // image format
  2207009: media, // aspect ratio
  2207023: media, // unknown media type
  2207026: media, // video format
  2207052: media, // URL not fetchable
  2207057: content, // thumbnail offset
  2207082: media,
  2207085: media,
  1390008: throttled(600_000), // posting too fast
  1363047: transient,
  1609010: transient,
  1346003: content,
  1404102: content,
  1609005: content, // the link could not be scraped
  1366046: media, // photo size or format
  1366051: { category: 'duplicate', code: 'DUPLICATE_CONTENT', retryable: false }, // photos already posted
  1404078: permanent, // Page Publishing Authorization needed: an admin must complete it on Facebook
};

function kindOf(res: HttpResponse, e: GraphError | undefined): Kind {
  const c = num(e?.code);
  const sub = num(e?.error_subcode);
  if (c === 190 || c === 102) {
    return REVOKING_SUBCODES.has(sub)
      ? { category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false }
      : { category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', retryable: false };
  }
  if (!e && res.status === 401) return { category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', retryable: false };
  const bySub = BY_SUBCODE[sub];
  if (bySub) return bySub;
  if (res.status === 429 || THROTTLED.has(c) || (c >= 80001 && c <= 80014)) return throttled(300_000);
  // 9: Instagram's publishing limit (9/2207042) and, on the simulator, the Reels per-Page limit.
  if (c === 9) return throttled(3_600_000);
  // Permissions: 10 and 200 mean a permission was not granted or was taken back (connect again and allow
  // it); the rest of 200–299 name a capability the app itself lacks, which reconnecting does not give.
  if (c === 10 || c === 200) return { category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false };
  if (c >= 201 && c <= 299) return permanent;
  if (c === 368) return permanent; // temporarily blocked for policy reasons: not something a retry fixes
  if (c === 506) return { category: 'duplicate', code: 'DUPLICATE_CONTENT', retryable: false };
  if (res.status >= 500 || c === 1 || c === 2 || e?.is_transient === true) return { ...transient, code: 'PLATFORM_UNAVAILABLE' };
  if (c === 9007) return { ...transient, wait: 10_000 };
  if (c === 9004 || c === 324 || c === 352 || (c >= 36000 && c <= 36004)) return media;
  // 6000–6099: the video upload did not come through (Page videos, Reels, Stories); a new upload may.
  if (c >= 6000 && c <= 6099) return mediaRetry;
  if (c === 24 || c === 25) return permanent;
  // 100/33: the object does not exist or is not this token's to use (a Page or id mix-up, not the content).
  if (c === 100) return sub === 33 ? permanent : content;
  return permanent;
}

export function mapGraphError(res: HttpResponse, now: Date, platform = 'Meta'): ConnectorError {
  const e = graphErrorOf(res);
  const k = kindOf(res, e);
  const text = e?.error_user_msg || e?.message || res.text.slice(0, 300) || `HTTP ${res.status}`;
  const platformCode = e ? `${e.code ?? '?'}${e.error_subcode ? `/${e.error_subcode}` : ''}` : `HTTP ${res.status}`;
  const out: ConnectorError = { category: k.category, code: k.code, platformCode, message: `${platform}: ${text}`, retryable: k.retryable };
  if (k.category === 'rate_limited') out.retryAfterMs = metaWaitMs(res, now) ?? k.wait;
  else if (k.retryable) {
    const wait = retryAfterMs(res.headers, now) ?? k.wait;
    if (wait !== undefined) out.retryAfterMs = wait;
  }
  return out;
}

/**
 * An Instagram container that ended in ERROR (its `status` reads "Error: Media upload has failed with error
 * code 2207026") or EXPIRED (not published within 24 hours) before it was published.
 */
export function containerError(statusCode: 'ERROR' | 'EXPIRED', status: string | undefined, what: string): ConnectorError {
  if (statusCode === 'EXPIRED') {
    return { category: 'transient', code: 'PLATFORM_ERROR', platformCode: 'EXPIRED', message: `Instagram: the container for ${what} expired before it was published`, retryable: true };
  }
  const sub = Number(/\b(2207\d{3}|9004|\d{6,7})\b/.exec(status ?? '')?.[1] ?? Number.NaN);
  const k = BY_SUBCODE[sub] ?? media;
  return { category: k.category, code: k.code, platformCode: Number.isNaN(sub) ? 'ERROR' : String(sub), message: `Instagram could not process ${what} (${status || 'ERROR'})`, retryable: k.retryable };
}

/** rupload's refusal: {"debug_info":{"retriable":false,"type":"ProcessingFailedError","message":"…"}}. */
export function ruploadError(res: HttpResponse, platform: string): ConnectorError {
  const d = (res.body as { debug_info?: { retriable?: boolean; type?: string; message?: string } } | undefined)?.debug_info;
  if (!d) return { category: res.status >= 500 ? 'transient' : 'permanent', code: res.status >= 500 ? 'PLATFORM_UNAVAILABLE' : 'PLATFORM_ERROR', platformCode: `HTTP ${res.status}`, message: `${platform}: the video upload failed (${res.text.slice(0, 200) || res.status})`, retryable: res.status >= 500 };
  return {
    category: 'media_error',
    code: 'MEDIA_REJECTED',
    platformCode: d.type ?? 'debug_info',
    message: `${platform} could not take the video: ${d.message ?? d.type ?? 'upload failed'}`,
    retryable: d.retriable === true,
  };
}
