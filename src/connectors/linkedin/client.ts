// The LinkedIn API calls Crier makes (platforms.md §2). Each returns the raw answer; the connector decides
// what it means. Every /rest call carries the version headers LinkedIn requires.
import type { Readable } from 'node:stream';
import { request, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';
import type { Result } from '../../lib/result.js';

/**
 * The monthly API version Crier speaks (YYYYMM). LinkedIn serves a version for about a year and then
 * answers 426 NONEXISTENT_VERSION, so this must move forward at least yearly (and the simulator refuses
 * versions older than twelve months, so the tests say when).
 */
export const LINKEDIN_VERSION = '202609';

type Call = Promise<Result<HttpResponse, ConnectorError>>;
export type MediaCollection = 'images' | 'videos' | 'documents';

const url = (baseUrl: string, path: string) => `${baseUrl.replace(/\/$/, '')}${path}`;

function rest(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'linkedin-version': LINKEDIN_VERSION, 'x-restli-protocol-version': '2.0.0' };
}

/** POST /rest/posts: 201 with an empty body, the new post's URN in `x-restli-id`. */
export function createPost(baseUrl: string, token: string, post: Record<string, unknown>, signal: AbortSignal): Call {
  return request(url(baseUrl, '/rest/posts'), { method: 'POST', headers: rest(token), json: post, signal, sideEffect: true });
}

/** The author's posts, newest first (a FINDER; member authors need r_member_social, organizations r_organization_social). */
export function postsByAuthor(baseUrl: string, token: string, author: string, count: number, signal: AbortSignal): Call {
  const q = `q=author&author=${encodeURIComponent(author)}&count=${count}&sortBy=LAST_MODIFIED`;
  return request(url(baseUrl, `/rest/posts?${q}`), { headers: { ...rest(token), 'x-restli-method': 'FINDER' }, signal });
}

/** POST /rest/{images|videos|documents}?action=initializeUpload. Registers an upload; nothing anyone sees. */
export function initializeUpload(baseUrl: string, token: string, collection: MediaCollection, req: Record<string, unknown>, signal: AbortSignal): Call {
  return request(url(baseUrl, `/rest/${collection}?action=initializeUpload`), { method: 'POST', headers: rest(token), json: { initializeUploadRequest: req }, signal });
}

/** PUT of a whole file (image, document) or one part of a video to the upload URL LinkedIn gave. */
export function putBytes(uploadUrl: string, token: string, body: Uint8Array | { stream: Readable; length: number }, contentType: string, signal: AbortSignal): Call {
  return request(uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body, signal });
}

export function finalizeVideo(baseUrl: string, token: string, req: { video: string; uploadToken: string; uploadedPartIds: string[] }, signal: AbortSignal): Call {
  return request(url(baseUrl, '/rest/videos?action=finalizeUpload'), { method: 'POST', headers: rest(token), json: { finalizeUploadRequest: req }, signal });
}

/** GET /rest/{videos|documents|images}/{urn}: the upload's processing status. */
export function getMedia(baseUrl: string, token: string, collection: MediaCollection, urn: string, signal: AbortSignal): Call {
  return request(url(baseUrl, `/rest/${collection}/${encodeURIComponent(urn)}`), { headers: rest(token), signal });
}

/** OpenID Connect userinfo (scopes openid + profile): `sub` is the member's person id. Not versioned. */
export function userinfo(baseUrl: string, token: string, signal: AbortSignal): Call {
  return request(url(baseUrl, '/v2/userinfo'), { headers: { authorization: `Bearer ${token}` }, signal });
}

/** The organizations the member holds an approved role in (a FINDER, paged with start/count). */
export function organizationAcls(baseUrl: string, token: string, role: string, start: number, count: number, signal: AbortSignal): Call {
  const q = `q=roleAssignee&role=${role}&state=APPROVED&start=${start}&count=${count}`;
  return request(url(baseUrl, `/rest/organizationAcls?${q}`), { headers: { ...rest(token), 'x-restli-method': 'FINDER' }, signal });
}

/** BATCH_GET of organizations by numeric id: {"results":{"<id>":{…}},"statuses":{…},"errors":{…}}. */
export function organizations(baseUrl: string, token: string, ids: string[], signal: AbortSignal): Call {
  return request(url(baseUrl, `/rest/organizations?ids=List(${ids.join(',')})`), { headers: { ...rest(token), 'x-restli-method': 'BATCH_GET' }, signal });
}

/** Sandbox only: a member of the simulator with a fresh token (no browser sign-in). */
export function sandboxMember(baseUrl: string, username: string, signal: AbortSignal): Call {
  return request(url(baseUrl, '/_sim/members'), { method: 'POST', json: { username }, signal });
}
