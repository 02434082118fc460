// The HTTP seam every connector uses: requests with the worker's abort signal, and network failures turned
// into classified errors. Whether a failed request may have reached the platform decides whether the
// worker may retry it blindly, so that distinction is made here, once.
// node:http with keep-alive agents rather than the global fetch: measured in the 10,000-publication burst,
// fetch cost about 0.9 ms of CPU per publication and node:http about 0.5 ms (bench/README.md).
import http from 'node:http';
import https from 'node:https';
import { Transform, pipeline, type Readable } from 'node:stream';
import type { ConnectorError } from './types.js';
import { err, ok, type Result } from '../lib/result.js';

export type HttpResponse = { status: number; headers: Headers; body: unknown; text: string };

export type HttpRequest = {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  headers?: Record<string, string>;
  json?: unknown;
  /** A stream needs its exact length (media uploads): it is sent as it is read, never buffered whole. */
  body?: Uint8Array | string | { stream: Readable; length: number };
  signal: AbortSignal;
  /** True for a call that creates something: a failure after sending leaves its outcome unknown. */
  sideEffect?: boolean;
};

// Errors raised before any byte of the request left this process.
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
};
/** A platform answer larger than this is refused rather than buffered (API responses are small). */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

type RawResponse = { status: number; headers: Headers; text: string };

type Body = HttpRequest['body'];

function send(url: URL, method: string, headers: Record<string, string>, body: Body, signal: AbortSignal): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const protocol = url.protocol === 'https:' ? 'https:' : 'http:';
    const outgoing: Record<string, string | number> = { ...headers };
    const streamed = body !== undefined && typeof body === 'object' && 'stream' in body ? body : undefined;
    if (streamed) outgoing['content-length'] = streamed.length;
    else if (body !== undefined) outgoing['content-length'] = Buffer.byteLength(body as Uint8Array | string);
    let bodyError: Error | undefined;
    const onAbort = () => req.destroy(signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError'));
    const req = (protocol === 'https:' ? https : http).request(url, { method, headers: outgoing, agent: agents[protocol] }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) return req.destroy(new Error(`response over ${MAX_RESPONSE_BYTES} bytes`));
        chunks.push(chunk);
      });
      res.on('end', () => {
        signal.removeEventListener('abort', onAbort);
        // An early answer (expired token, file too large) leaves the rest of the file unsent: stop reading
        // it, and drop the unfinished request with its socket rather than leave both waiting.
        streamed?.stream.destroy();
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({ status: res.statusCode ?? 0, headers: h, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      if (bodyError) return reject(Object.assign(new Error(bodyError.message), { name: 'BodyError' }));
      // The shape fetch gave: a name for aborts/timeouts, the socket's code as `cause.code`.
      reject(Object.assign(new Error(e.message), { name: e.name, cause: { code: e.code } }));
    });
    if (signal.aborted) {
      streamed?.stream.destroy();
      return onAbort();
    }
    signal.addEventListener('abort', onAbort, { once: true });
    if (!streamed) return void req.end(body);
    // A file that fails to read, or is not exactly `length` bytes, ends the request before it is complete:
    // the server never received a whole request (its Content-Length was not met), so it cannot have acted
    // on it. That is said apart from a network failure, whose request may have arrived.
    const bodyFailed = (e: Error) => {
      if (!bodyError) bodyError = e;
    };
    let counted = 0;
    const exact = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        counted += chunk.length;
        if (counted <= streamed.length) return cb(null, chunk);
        const e = new Error(`the file has more than its ${streamed.length} bytes`);
        bodyFailed(e);
        cb(e);
      },
      flush(cb) {
        if (counted === streamed.length) return cb();
        const e = new Error(`the file ended after ${counted} of its ${streamed.length} bytes`);
        bodyFailed(e);
        cb(e);
      },
    });
    streamed.stream.on('error', bodyFailed);
    // pipeline() also destroys the request when the file stream is destroyed before its end (an early
    // answer, see above), so a half-sent request never keeps its socket.
    pipeline(streamed.stream, exact, req, () => {});
  });
}

export async function request(url: string, req: HttpRequest): Promise<Result<HttpResponse, ConnectorError>> {
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let body: Body = req.body;
  if (req.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.json);
  }
  let response: RawResponse;
  try {
    response = await send(new URL(url), req.method ?? 'GET', headers, body, req.signal);
  } catch (error) {
    return err(networkError(error, req.sideEffect ?? false));
  }
  const text = response.text;
  let parsed: unknown = undefined;
  if (text.length > 0 && (response.headers.get('content-type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  return ok({ status: response.status, headers: response.headers, body: parsed, text });
}

function networkError(error: unknown, sideEffect: boolean): ConnectorError {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code;
  if (e.name === 'BodyError') {
    return { category: 'transient', code: 'MEDIA_FAILED', message: `could not send a media file: ${e.message ?? 'read failed'}`, retryable: true, outcomeUnknown: false };
  }
  if (code && NOT_SENT.has(code)) {
    return { category: 'transient', code: 'PLATFORM_UNREACHABLE', platformCode: code, message: `platform unreachable (${code})`, retryable: true };
  }
  const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
  return {
    category: 'transient',
    code: timedOut ? 'PLATFORM_TIMEOUT' : 'PLATFORM_CONNECTION_LOST',
    platformCode: code,
    message: timedOut ? 'the platform did not answer in time' : `connection to the platform failed (${code ?? e.message ?? 'unknown'})`,
    retryable: true,
    outcomeUnknown: sideEffect,
  };
}

/** Seconds or an HTTP date, as Retry-After allows; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now: Date): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** Epoch-seconds reset headers (RateLimit-Reset, x-rate-limit-reset) to a delay. */
export function resetHeaderMs(headers: Headers, name: string, now: Date): number | undefined {
  const value = headers.get(name);
  if (!value || !/^\d+$/.test(value.trim())) return undefined;
  return Math.max(0, Number(value) * 1000 - now.getTime());
}
