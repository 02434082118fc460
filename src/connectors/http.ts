// The HTTP seam every connector uses: fetch with the worker's abort signal, and network failures turned
// into classified errors. Whether a failed request may have reached the platform decides whether the
// worker may retry it blindly, so that distinction is made here, once.
import type { ConnectorError } from './types.js';
import { err, ok, type Result } from '../lib/result.js';

export type HttpResponse = { status: number; headers: Headers; body: unknown; text: string };

export type HttpRequest = {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  headers?: Record<string, string>;
  json?: unknown;
  body?: Uint8Array | string;
  signal: AbortSignal;
  /** True for a call that creates something: a failure after sending leaves its outcome unknown. */
  sideEffect?: boolean;
};

// Errors raised before any byte of the request left this process.
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export async function request(url: string, req: HttpRequest): Promise<Result<HttpResponse, ConnectorError>> {
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let body: Uint8Array | string | undefined = req.body;
  if (req.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.json);
  }
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { method: req.method ?? 'GET', headers, body, signal: req.signal });
    text = await response.text();
  } catch (error) {
    return err(networkError(error, req.sideEffect ?? false));
  }
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
