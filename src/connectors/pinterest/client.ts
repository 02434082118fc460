// The Pinterest API v5 calls Crier makes (platforms.md §8). Each returns the raw response; the connector
// decides what it means. Only POST /v5/pins makes something anyone can see: a registered media upload that
// is never used creates nothing, so its failures are never outcome-unknown.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Result } from '../../lib/result.js';
import { request, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

type Call = Promise<Result<HttpResponse, ConnectorError>>;

const url = (baseUrl: string, path: string) => `${baseUrl.replace(/\/$/, '')}${path}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export type MediaSource =
  | { source_type: 'image_url'; url: string }
  | { source_type: 'image_base64'; content_type: string; data: string }
  | { source_type: 'multiple_image_urls'; items: { url: string }[] }
  | { source_type: 'multiple_image_base64'; items: { content_type: string; data: string }[] }
  | { source_type: 'video_id'; media_id: string; cover_image_url?: string; cover_image_key_frame_time?: number };

export type PinBody = {
  board_id: string;
  board_section_id?: string;
  title?: string;
  description?: string;
  link?: string;
  alt_text?: string;
  dominant_color?: string;
  media_source: MediaSource;
};

export function userAccount(baseUrl: string, token: string, signal: AbortSignal): Call {
  return request(url(baseUrl, '/v5/user_account'), { headers: bearer(token), signal });
}

export function listBoards(baseUrl: string, token: string, bookmark: string | undefined, signal: AbortSignal): Call {
  const q = new URLSearchParams({ page_size: '250' });
  if (bookmark) q.set('bookmark', bookmark);
  return request(url(baseUrl, `/v5/boards?${q}`), { headers: bearer(token), signal });
}

export function boardPins(baseUrl: string, token: string, boardId: string, bookmark: string | undefined, signal: AbortSignal): Call {
  const q = new URLSearchParams({ page_size: '50' });
  if (bookmark) q.set('bookmark', bookmark);
  return request(url(baseUrl, `/v5/boards/${encodeURIComponent(boardId)}/pins?${q}`), { headers: bearer(token), signal });
}

export function createPin(baseUrl: string, token: string, body: PinBody, signal: AbortSignal): Call {
  return request(url(baseUrl, '/v5/pins'), { method: 'POST', headers: bearer(token), json: body, signal, sideEffect: true });
}

export function registerMedia(baseUrl: string, token: string, signal: AbortSignal): Call {
  return request(url(baseUrl, '/v5/media'), { method: 'POST', headers: bearer(token), json: { media_type: 'video' }, signal });
}

export function mediaStatus(baseUrl: string, token: string, mediaId: string, signal: AbortSignal): Call {
  return request(url(baseUrl, `/v5/media/${encodeURIComponent(mediaId)}`), { headers: bearer(token), signal });
}

/**
 * The S3 form POST: every upload parameter as a field, in the order given, then the file (S3 ignores fields
 * after the file). The file is streamed, never buffered; no Authorization header (the policy is the credential).
 */
export function uploadToS3(uploadUrl: string, params: Record<string, string>, file: { stream: Readable; length: number; mimeType: string }, signal: AbortSignal): Call {
  const boundary = `----crier${randomBytes(12).toString('hex')}`;
  const fields = Object.entries(params).map(([k, v]) => `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('');
  const head = Buffer.from(`${fields}--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="video"\r\ncontent-type: ${file.mimeType}\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* parts() {
    yield head;
    for await (const chunk of file.stream) yield chunk as Buffer;
    yield tail;
  }
  const stream = Readable.from(parts());
  // A failure of the file stream must reach the request (it is what http.ts watches).
  file.stream.on('error', (e) => stream.destroy(e));
  return request(uploadUrl, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, accept: '*/*' }, body: { stream, length: head.length + file.length + tail.length }, signal });
}
