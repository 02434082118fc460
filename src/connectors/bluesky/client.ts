// The XRPC calls Crier makes to a PDS. Each returns the raw response; the connector decides what it means.
import type { Readable } from 'node:stream';
import { request, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';
import type { Result } from '../../lib/result.js';

export type BlueskySession = { did: string; handle: string; accessJwt: string; refreshJwt: string; didDoc?: unknown };

type Call = Promise<Result<HttpResponse, ConnectorError>>;

const xrpc = (baseUrl: string, nsid: string) => `${baseUrl.replace(/\/$/, '')}/xrpc/${nsid}`;

export function createSession(baseUrl: string, identifier: string, password: string, signal: AbortSignal): Call {
  return request(xrpc(baseUrl, 'com.atproto.server.createSession'), { method: 'POST', json: { identifier, password }, signal });
}

export function refreshSession(baseUrl: string, refreshJwt: string, signal: AbortSignal): Call {
  return request(xrpc(baseUrl, 'com.atproto.server.refreshSession'), {
    method: 'POST',
    headers: { authorization: `Bearer ${refreshJwt}` },
    signal,
  });
}

export function createAccount(baseUrl: string, handle: string, password: string, signal: AbortSignal): Call {
  return request(xrpc(baseUrl, 'com.atproto.server.createAccount'), {
    method: 'POST',
    json: { handle, password, email: `${handle}@example.invalid` },
    signal,
  });
}

export function createRecord(
  baseUrl: string,
  accessJwt: string,
  input: { repo: string; collection: string; rkey: string; record: Record<string, unknown> },
  signal: AbortSignal,
): Call {
  return request(xrpc(baseUrl, 'com.atproto.repo.createRecord'), {
    method: 'POST',
    headers: { authorization: `Bearer ${accessJwt}` },
    json: input,
    signal,
    sideEffect: true,
  });
}

export function getRecord(baseUrl: string, repo: string, collection: string, rkey: string, signal: AbortSignal): Call {
  const qs = new URLSearchParams({ repo, collection, rkey });
  return request(`${xrpc(baseUrl, 'com.atproto.repo.getRecord')}?${qs}`, { signal });
}

/** Raw bytes in, a blob reference out. No side effect anyone sees: a blob no record uses is garbage-collected. */
export function uploadBlob(baseUrl: string, accessJwt: string, bytes: { stream: Readable; length: number }, mimeType: string, signal: AbortSignal): Call {
  return request(xrpc(baseUrl, 'com.atproto.repo.uploadBlob'), {
    method: 'POST',
    headers: { authorization: `Bearer ${accessJwt}`, 'content-type': mimeType },
    body: bytes,
    signal,
  });
}

/** A handle to its DID (any handle: the PDS resolves it through DNS or HTTPS, or knows it). No auth. */
export function resolveHandle(baseUrl: string, handle: string, signal: AbortSignal): Call {
  return request(`${xrpc(baseUrl, 'com.atproto.identity.resolveHandle')}?${new URLSearchParams({ handle })}`, { signal });
}
