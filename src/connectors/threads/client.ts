// The Threads API calls Crier makes (graph.threads.net, platforms.md §5). Each returns the raw response; the
// connector decides what it means. As in Meta's docs, the access token travels as the `access_token`
// parameter: in the form body of a POST (so it stays out of URLs) and in the query of a GET.
import { request, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';
import type { Result } from '../../lib/result.js';

type Call = Promise<Result<HttpResponse, ConnectorError>>;

export const API_VERSION = 'v1.0';

const root = (baseUrl: string) => baseUrl.replace(/\/$/, '');
const graph = (baseUrl: string, path: string) => `${root(baseUrl)}/${API_VERSION}${path}`;

function get(url: string, params: Record<string, string>, signal: AbortSignal): Call {
  return request(`${url}?${new URLSearchParams(params)}`, { signal });
}

function post(url: string, params: Record<string, string>, signal: AbortSignal, sideEffect = false): Call {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
    signal,
    sideEffect,
  });
}

export type ContainerParams = {
  media_type: 'TEXT' | 'IMAGE' | 'VIDEO' | 'CAROUSEL';
  text?: string;
  image_url?: string;
  video_url?: string;
  is_carousel_item?: 'true';
  children?: string;
  reply_to_id?: string;
  reply_control?: string;
  alt_text?: string;
  topic_tag?: string;
};

/** Step 1: a media container. Not visible to anyone (it expires unpublished after 24 h), so never outcome-unknown. */
export function createContainer(baseUrl: string, token: string, userId: string, params: ContainerParams, signal: AbortSignal): Call {
  const defined = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return post(graph(baseUrl, `/${userId}/threads`), { ...defined, access_token: token }, signal);
}

/** Step 2: IN_PROGRESS, FINISHED, PUBLISHED, ERROR (with error_message) or EXPIRED. */
export function containerStatus(baseUrl: string, token: string, containerId: string, signal: AbortSignal): Call {
  return get(graph(baseUrl, `/${containerId}`), { fields: 'id,status,error_message', access_token: token }, signal);
}

/** Step 3: makes the post visible; the one call that must never be repeated blindly. */
export function publishContainer(baseUrl: string, token: string, userId: string, creationId: string, signal: AbortSignal): Call {
  return post(graph(baseUrl, `/${userId}/threads_publish`), { creation_id: creationId, access_token: token }, signal, true);
}

export function mediaObject(baseUrl: string, token: string, mediaId: string, fields: string, signal: AbortSignal): Call {
  return get(graph(baseUrl, `/${mediaId}`), { fields, access_token: token }, signal);
}

export const LIST_FIELDS = 'id,text,timestamp,permalink,media_type,replied_to';

/** The account's posts (`threads`) or its replies (`replies`), newest first, published at or after `since` (epoch seconds). */
export function listOwn(baseUrl: string, token: string, userId: string, edge: 'threads' | 'replies', since: number, signal: AbortSignal): Call {
  return get(graph(baseUrl, `/${userId}/${edge}`), { fields: LIST_FIELDS, since: String(since), limit: '50', access_token: token }, signal);
}

export function publishingLimit(baseUrl: string, token: string, userId: string, replies: boolean, signal: AbortSignal): Call {
  const fields = replies ? 'quota_usage,config,reply_quota_usage,reply_config' : 'quota_usage,config';
  return get(graph(baseUrl, `/${userId}/threads_publishing_limit`), { fields, access_token: token }, signal);
}

export function me(baseUrl: string, token: string, signal: AbortSignal): Call {
  return get(graph(baseUrl, '/me'), { fields: 'id,username,name', access_token: token }, signal);
}

/** Short-lived (1 h) token → long-lived (60 days); needs the app secret. Not versioned. */
export function exchangeToken(baseUrl: string, clientSecret: string, shortLived: string, signal: AbortSignal): Call {
  return get(`${root(baseUrl)}/access_token`, { grant_type: 'th_exchange_token', client_secret: clientSecret, access_token: shortLived }, signal);
}

/** A long-lived token at least 24 h old and unexpired → a new 60-day one. No secret. Not versioned. */
export function refreshToken(baseUrl: string, longLived: string, signal: AbortSignal): Call {
  return get(`${root(baseUrl)}/refresh_access_token`, { grant_type: 'th_refresh_token', access_token: longLived }, signal);
}
