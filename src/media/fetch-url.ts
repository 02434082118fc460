// Downloads a user's media URL once, through the SSRF guard: every redirect hop re-checked, size refused
// from Content-Length before reading and enforced while streaming, total and idle timeouts, sha256 while
// writing; any failure removes the partial file.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkUrl, guardedLookup, policyFor, UrlNotAllowedError, type UrlPolicy } from '../lib/ssrf.js';

export type FetchErrorCode = 'URL_NOT_ALLOWED' | 'MEDIA_TOO_LARGE' | 'MEDIA_FETCH_FAILED' | 'MEDIA_FETCH_TIMEOUT' | 'TOO_MANY_REDIRECTS';

export class MediaFetchError extends Error {
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export type DownloadOptions = { policy: UrlPolicy; maxBytes: number; timeoutMs: number; idleTimeoutMs?: number; maxRedirects?: number; signal?: AbortSignal; userAgent?: string };
export type Downloaded = { size: number; contentType: string | null; finalUrl: string; sha256: string; filename: string | null };

export async function downloadToFile(rawUrl: string, filePath: string, opts: DownloadOptions): Promise<Downloaded> {
  const deadline = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  const idle = { fired: false };
  try {
    let url = rawUrl;
    for (let hop = 0; ; hop++) {
      const res = await request(url, opts, signal, idle);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (hop >= (opts.maxRedirects ?? 5)) throw new MediaFetchError('TOO_MANY_REDIRECTS', `more than ${opts.maxRedirects ?? 5} redirects from ${rawUrl}`);
        url = new URL(res.headers.location, url).toString();
        continue;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        throw new MediaFetchError('MEDIA_FETCH_FAILED', `the server answered ${status} for ${url}`, status);
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBytes) {
        res.destroy();
        throw new MediaFetchError('MEDIA_TOO_LARGE', `the file is ${declared} bytes; files up to ${opts.maxBytes} bytes are accepted`);
      }
      return await save(res, url, filePath, opts.maxBytes);
    }
  } catch (error) {
    await rm(filePath, { force: true });
    if (error instanceof MediaFetchError) throw error;
    if (error instanceof UrlNotAllowedError || (error as { cause?: unknown }).cause instanceof UrlNotAllowedError) {
      throw new MediaFetchError('URL_NOT_ALLOWED', (error instanceof UrlNotAllowedError ? error : ((error as { cause: Error }).cause)).message);
    }
    if (deadline.aborted) throw new MediaFetchError('MEDIA_FETCH_TIMEOUT', `the download did not finish within ${opts.timeoutMs} ms`);
    if (idle.fired) throw new MediaFetchError('MEDIA_FETCH_TIMEOUT', `the server sent nothing for ${opts.idleTimeoutMs ?? 30_000} ms`);
    throw new MediaFetchError('MEDIA_FETCH_FAILED', `the download failed: ${(error as Error).message}`);
  }
}

function request(url: string, opts: DownloadOptions, signal: AbortSignal, idle: { fired: boolean }): Promise<IncomingMessage> {
  const parsed = checkUrl(url, opts.policy);
  const policy = policyFor(parsed, opts.policy);
  const client = parsed.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(parsed, { lookup: guardedLookup(policy), signal, headers: { 'user-agent': opts.userAgent ?? 'Crier', accept: 'image/*,video/*,*/*;q=0.5' } }, resolve);
    // The socket's inactivity timer covers waiting for headers and every gap in the body.
    req.setTimeout(opts.idleTimeoutMs ?? 30_000, () => {
      idle.fired = true;
      req.destroy(new Error('idle timeout'));
    });
    req.on('error', reject);
  });
}

async function save(res: IncomingMessage, url: string, filePath: string, maxBytes: number): Promise<Downloaded> {
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new MediaFetchError('MEDIA_TOO_LARGE', `the file is over ${maxBytes} bytes, the most accepted`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(res, meter, createWriteStream(filePath));
  return { size, contentType: res.headers['content-type'] ?? null, finalUrl: url, sha256: hash.digest('hex'), filename: filenameOf(res.headers['content-disposition'], url) };
}

function filenameOf(disposition: string | undefined, url: string): string | null {
  const fromHeader = disposition?.match(/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i)?.[1];
  let name = fromHeader ? decodeURIComponent(fromHeader) : path.posix.basename(new URL(url).pathname);
  name = name.replace(/[^\w.\- ]+/g, '_').slice(0, 200);
  return name && name !== '_' ? name : null;
}
