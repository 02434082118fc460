// The X API v2 calls Crier makes (platforms.md §1). Each returns the raw response; the connector decides
// what it means. Only POST /2/tweets is a side effect anyone can see: media uploads and metadata create
// nothing public (an unused upload expires), so their failures are never outcome-unknown.
import { randomBytes } from 'node:crypto';
import type { Result } from '../../lib/result.js';
import { request, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

type Call = Promise<Result<HttpResponse, ConnectorError>>;

const url = (baseUrl: string, path: string) => `${baseUrl.replace(/\/$/, '')}${path}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export type TweetBody = {
  text: string;
  media?: { media_ids: string[] };
  poll?: { options: string[]; duration_minutes: number };
  quote_tweet_id?: string;
  reply?: { in_reply_to_tweet_id: string };
  reply_settings?: string;
};

export function createTweet(baseUrl: string, token: string, body: TweetBody, signal: AbortSignal): Call {
  return request(url(baseUrl, '/2/tweets'), { method: 'POST', headers: bearer(token), json: body, signal, sideEffect: true });
}

export function me(baseUrl: string, token: string, signal: AbortSignal): Call {
  return request(url(baseUrl, '/2/users/me'), { headers: bearer(token), signal });
}

export type TimelineQuery = { startTime?: string; paginationToken?: string; maxResults?: number };

/** The account's own recent posts, newest first, with what read-back compares (text, links, targets). */
export function userTweets(baseUrl: string, token: string, userId: string, q: TimelineQuery, signal: AbortSignal): Call {
  const qs = new URLSearchParams({ max_results: String(q.maxResults ?? 100), 'tweet.fields': 'created_at,referenced_tweets,entities' });
  if (q.startTime) qs.set('start_time', q.startTime);
  if (q.paginationToken) qs.set('pagination_token', q.paginationToken);
  return request(url(baseUrl, `/2/users/${encodeURIComponent(userId)}/tweets?${qs}`), { headers: bearer(token), signal });
}

export function initializeUpload(
  baseUrl: string,
  token: string,
  body: { media_type: string; total_bytes: number; media_category: string },
  signal: AbortSignal,
): Call {
  return request(url(baseUrl, '/2/media/upload/initialize'), { method: 'POST', headers: bearer(token), json: body, signal });
}

/** One segment of a chunked upload, as multipart/form-data (`segment_index`, then the bytes as `media`). */
export function appendUpload(baseUrl: string, token: string, mediaId: string, segmentIndex: number, chunk: Buffer, signal: AbortSignal): Call {
  const form = multipart([
    { name: 'segment_index', value: String(segmentIndex) },
    { name: 'media', filename: 'blob', contentType: 'application/octet-stream', data: chunk },
  ]);
  return request(url(baseUrl, `/2/media/upload/${encodeURIComponent(mediaId)}/append`), {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': form.contentType },
    body: form.body,
    signal,
  });
}

export function finalizeUpload(baseUrl: string, token: string, mediaId: string, signal: AbortSignal): Call {
  return request(url(baseUrl, `/2/media/upload/${encodeURIComponent(mediaId)}/finalize`), { method: 'POST', headers: bearer(token), signal });
}

export function uploadStatus(baseUrl: string, token: string, mediaId: string, signal: AbortSignal): Call {
  const qs = new URLSearchParams({ command: 'STATUS', media_id: mediaId });
  return request(url(baseUrl, `/2/media/upload?${qs}`), { headers: bearer(token), signal });
}

export function setAltText(baseUrl: string, token: string, mediaId: string, alt: string, signal: AbortSignal): Call {
  return request(url(baseUrl, '/2/media/metadata'), {
    method: 'POST',
    headers: bearer(token),
    json: { id: mediaId, metadata: { alt_text: { text: alt } } },
    signal,
  });
}

type Part = { name: string; value: string } | { name: string; filename: string; contentType: string; data: Buffer };

/** A multipart/form-data body (RFC 7578). A chunk is at most a few MB, so it is built in memory. */
export function multipart(parts: Part[]): { contentType: string; body: Buffer } {
  const boundary = `----crier${randomBytes(12).toString('hex')}`;
  const pieces: Buffer[] = [];
  for (const p of parts) {
    const head = 'data' in p
      ? `Content-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: ${p.contentType}\r\n\r\n`
      : `Content-Disposition: form-data; name="${p.name}"\r\n\r\n`;
    pieces.push(Buffer.from(`--${boundary}\r\n${head}`), 'data' in p ? p.data : Buffer.from(p.value), Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(pieces) };
}
