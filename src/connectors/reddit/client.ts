// The Reddit API calls Crier makes (platforms.md §10), each returning the raw response; the connector
// decides what it means. Every call to oauth.reddit.com carries a descriptive User-Agent: Reddit throttles
// or blocks generic ones ("node", "python-requests"…) and asks for `<platform>:<app id>:<version> (by /u/<user>)`.
// Crier runs as many operators' apps, so the app part names Crier and the account it acts for.
// Only /api/submit creates something anyone can see; a media lease and an S3 upload create nothing public
// (an unused upload is never shown), so their failures are never outcome-unknown.
import { randomBytes } from 'node:crypto';
import type { Result } from '../../lib/result.js';
import { request, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

type Call = Promise<Result<HttpResponse, ConnectorError>>;

export const CRIER_VERSION = '0.1.0';

/** Reddit's User-Agent rule: `<platform>:<app id>:<version> (by /u/<username>)`. */
export function userAgent(username?: string): string {
  return `server:crier:${CRIER_VERSION} (by /u/${username ?? 'crier'})`;
}

const url = (baseUrl: string, path: string) => `${baseUrl.replace(/\/$/, '')}${path}`;
const headers = (token: string, username?: string) => ({ authorization: `bearer ${token}`, 'user-agent': userAgent(username) });
const sr = (name: string) => encodeURIComponent(name);

export function me(baseUrl: string, token: string, signal: AbortSignal): Call {
  return request(url(baseUrl, '/api/v1/me?raw_json=1'), { headers: headers(token), signal });
}

/** The subreddit's settings: allowed post types (`submission_type`, `allow_images`), type, ban and contributor status. */
export function about(baseUrl: string, token: string, username: string, subreddit: string, signal: AbortSignal): Call {
  return request(url(baseUrl, `/r/${sr(subreddit)}/about?raw_json=1`), { headers: headers(token, username), signal });
}

/** The subreddit's post requirements: title/body lengths and strings, body policy, flair, link domains. */
export function postRequirements(baseUrl: string, token: string, username: string, subreddit: string, signal: AbortSignal): Call {
  return request(url(baseUrl, `/api/v1/${sr(subreddit)}/post_requirements?raw_json=1`), { headers: headers(token, username), signal });
}

/** The subreddit's post flair templates (scope `flair`). */
export function linkFlairs(baseUrl: string, token: string, username: string, subreddit: string, signal: AbortSignal): Call {
  return request(url(baseUrl, `/r/${sr(subreddit)}/api/link_flair_v2?raw_json=1`), { headers: headers(token, username), signal });
}

/** POST /api/submit, form-encoded; Reddit answers 200 even when it refuses (json.errors). */
export function submit(baseUrl: string, token: string, username: string, form: Record<string, string>, signal: AbortSignal): Call {
  return request(url(baseUrl, '/api/submit'), {
    method: 'POST',
    headers: { ...headers(token, username), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    signal,
    sideEffect: true,
  });
}

/** An upload lease: where (an S3 form) and with which fields to upload one file. */
export function mediaAsset(baseUrl: string, token: string, username: string, filepath: string, mimetype: string, signal: AbortSignal): Call {
  return request(url(baseUrl, '/api/media/asset.json'), {
    method: 'POST',
    headers: { ...headers(token, username), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ filepath, mimetype }).toString(),
    signal,
  });
}

/** The S3 form upload: the lease's fields in order, then the file last (S3 ignores anything after it). */
export function s3Upload(action: string, fields: { name: string; value: string }[], file: { data: Buffer; filename: string; mimeType: string }, signal: AbortSignal): Call {
  const boundary = `----crier${randomBytes(12).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const f of fields) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"\r\n\r\n${f.value}\r\n`));
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\nContent-Type: ${file.mimeType}\r\n\r\n`), file.data, Buffer.from(`\r\n--${boundary}--\r\n`));
  return request(action, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, accept: '*/*' }, body: Buffer.concat(parts), signal });
}

/** The account's own posts, newest first (scope `history`). */
export function submitted(baseUrl: string, token: string, username: string, after: string | undefined, signal: AbortSignal): Call {
  const qs = new URLSearchParams({ sort: 'new', limit: '100', raw_json: '1' });
  if (after) qs.set('after', after);
  return request(url(baseUrl, `/user/${encodeURIComponent(username)}/submitted?${qs}`), { headers: headers(token, username), signal });
}
