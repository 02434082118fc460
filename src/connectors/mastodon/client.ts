// The Mastodon API calls Crier makes (platforms.md §11), against one instance. Each returns the raw
// response; the connector decides what it means. Every call sends `Accept: application/json` (through
// request()): without it Mastodon answers some errors with HTML pages.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Result } from '../../lib/result.js';
import { request, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

type Call = Promise<Result<HttpResponse, ConnectorError>>;

const root = (base: string) => base.replace(/\/$/, '');
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** POST /api/v1/apps: the app Crier uses on this instance (public; no token). */
export function registerApp(base: string, body: { client_name: string; redirect_uris: string[]; scopes: string; website?: string }, signal: AbortSignal): Call {
  return request(`${root(base)}/api/v1/apps`, { method: 'POST', json: body, signal });
}

/** GET /api/v2/instance: the instance's configuration (limits). Public. */
export function instance(base: string, signal: AbortSignal): Call {
  return request(`${root(base)}/api/v2/instance`, { signal });
}

export function verifyCredentials(base: string, token: string, signal: AbortSignal): Call {
  return request(`${root(base)}/api/v1/accounts/verify_credentials`, { headers: bearer(token), signal });
}

export type StatusParams = {
  status?: string;
  media_ids?: string[];
  in_reply_to_id?: string;
  sensitive?: boolean;
  spoiler_text?: string;
  visibility?: string;
  language?: string;
};

/**
 * POST /api/v1/statuses. The one call that makes something visible: sideEffect, so a lost answer is
 * outcome-unknown. `idempotencyKey`: see publish.ts for what Mastodon's Idempotency-Key does and does not do.
 */
export function createStatus(base: string, token: string, params: StatusParams, idempotencyKey: string, signal: AbortSignal): Call {
  const body = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
  return request(`${root(base)}/api/v1/statuses`, { method: 'POST', headers: { ...bearer(token), 'idempotency-key': idempotencyKey }, json: body, signal, sideEffect: true });
}

/** GET /api/v1/media/:id: 206 while processing, 200 once `url` is set; 404 once attached to a status. */
export function getMedia(base: string, token: string, id: string, signal: AbortSignal): Call {
  return request(`${root(base)}/api/v1/media/${encodeURIComponent(id)}`, { headers: bearer(token), signal });
}

/**
 * POST /api/v2/media as multipart/form-data: `description` (alt text) then `file`, whose bytes are streamed
 * as they are read (a video may be ~100 MB). Not a side effect anyone sees: an attachment no status uses
 * is removed by the instance after a while.
 */
export function uploadMedia(
  base: string,
  token: string,
  file: { stream: Readable; length: number; mimeType: string; filename: string },
  description: string | undefined,
  signal: AbortSignal,
): Call {
  const boundary = `----crier${randomBytes(12).toString('hex')}`;
  const field = description === undefined ? '' : `--${boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\n${description}\r\n`;
  const head = Buffer.from(`${field}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename.replace(/["\r\n]/g, '_')}"\r\nContent-Type: ${file.mimeType}\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const source = file.stream;
  async function* parts() {
    yield head;
    for await (const chunk of source) yield chunk as Buffer;
    yield tail;
  }
  const stream = Readable.from(parts(), { objectMode: false });
  // A failure of the body stream must also end the file's own stream (request() destroys the outer one).
  stream.on('close', () => source.destroy());
  return request(`${root(base)}/api/v2/media`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: { stream, length: head.length + file.length + tail.length },
    signal,
  });
}

/** The account's statuses, newest first (max 40 a page); `maxId` pages back. Needs read:statuses for non-public ones. */
export function accountStatuses(base: string, token: string, accountId: string, p: { limit: number; maxId?: string }, signal: AbortSignal): Call {
  const q = new URLSearchParams({ limit: String(p.limit), exclude_reblogs: 'true' });
  if (p.maxId) q.set('max_id', p.maxId);
  return request(`${root(base)}/api/v1/accounts/${encodeURIComponent(accountId)}/statuses?${q}`, { headers: bearer(token), signal });
}

/** GET /api/v1/statuses/:id/source: the plain text and content warning as written (own statuses). */
export function statusSource(base: string, token: string, id: string, signal: AbortSignal): Call {
  return request(`${root(base)}/api/v1/statuses/${encodeURIComponent(id)}/source`, { headers: bearer(token), signal });
}

/** GET /api/v2/search with resolve=true: a status of another server by its URL, as this instance knows it. */
export function resolveStatus(base: string, token: string, url: string, signal: AbortSignal): Call {
  const q = new URLSearchParams({ q: url, type: 'statuses', resolve: 'true', limit: '1' });
  return request(`${root(base)}/api/v2/search?${q}`, { headers: bearer(token), signal });
}
