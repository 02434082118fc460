// An instance's own limits (GET /api/v2/instance → configuration, docs entities/Instance). validate() runs
// when a post is created, without knowing the account's instance, so it checks Mastodon's defaults (500
// characters, 4 attachments); publishing checks again against the real numbers, before anything is
// uploaded or posted, so a thread never stops half-way on a limit that was knowable.
// Kept a few minutes per instance: the endpoint is public but counts against the per-IP rate limit (300
// requests per 5 minutes), which an agency posting for many accounts of one instance would feel.
import { err, ok, type Result } from '../../lib/result.js';
import type { ConnectorError } from '../types.js';
import * as client from './client.js';
import { DEFAULT_LIMITS, type InstanceLimits } from './text.js';

const TTL_MS = 5 * 60_000;
const cache = new Map<string, { limits: InstanceLimits; at: number }>();

/** Forgets what is known of every instance (tests change a simulator's limits between cases). */
export function forgetInstanceLimits(): void {
  cache.clear();
}

const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback);

export function limitsFrom(body: unknown): InstanceLimits {
  const c = ((body ?? {}) as { configuration?: Record<string, Record<string, unknown> | undefined> }).configuration ?? {};
  const s = c['statuses'] ?? {};
  const m = c['media_attachments'] ?? {};
  return {
    maxCharacters: num(s['max_characters'], DEFAULT_LIMITS.maxCharacters),
    maxMediaAttachments: num(s['max_media_attachments'], DEFAULT_LIMITS.maxMediaAttachments),
    charactersReservedPerUrl: num(s['characters_reserved_per_url'], DEFAULT_LIMITS.charactersReservedPerUrl),
    imageSizeLimit: num(m['image_size_limit'], DEFAULT_LIMITS.imageSizeLimit),
    videoSizeLimit: num(m['video_size_limit'], DEFAULT_LIMITS.videoSizeLimit),
    descriptionLimit: num(m['description_limit'], DEFAULT_LIMITS.descriptionLimit),
    supportedMimeTypes: Array.isArray(m['supported_mime_types']) ? (m['supported_mime_types'] as unknown[]).filter((t): t is string => typeof t === 'string') : [],
  };
}

/**
 * The instance's limits. A server without /api/v2/instance (before 4.0: 404) gets the defaults. Any other
 * failure is returned: publishing then waits for the instance rather than guess.
 */
export async function instanceLimits(base: string, now: number, signal: AbortSignal): Promise<Result<InstanceLimits, ConnectorError>> {
  const key = base.replace(/\/$/, '');
  const known = cache.get(key);
  if (known && now - known.at < TTL_MS) return ok(known.limits);
  const sent = await client.instance(key, signal);
  if (!sent.ok) return sent;
  const res = sent.value;
  let limits: InstanceLimits;
  if (res.status === 200) limits = limitsFrom(res.body);
  else if (res.status === 404 || res.status === 410) limits = { ...DEFAULT_LIMITS, supportedMimeTypes: [] };
  else if (res.status >= 500 || res.status === 429) {
    return err({ category: 'transient', code: 'PLATFORM_UNAVAILABLE', platformCode: `HTTP ${res.status}`, message: `the instance did not give its limits (GET /api/v2/instance answered ${res.status})`, retryable: true, retryAfterMs: res.status === 429 ? 60_000 : undefined });
  } else limits = { ...DEFAULT_LIMITS, supportedMimeTypes: [] };
  cache.set(key, { limits, at: now });
  return ok(limits);
}
