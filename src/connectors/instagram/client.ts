// The Instagram content publishing calls Crier makes (graph.facebook.com with Facebook Login, platforms.md
// §4). Each returns the raw response; publish.ts decides what it means. Files travel as URLs Instagram
// fetches (image_url, video_url), never as bytes through Crier's worker.
import type { Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import { graphGet, graphPost } from '../meta/graph.js';
import type { ConnectorError } from '../types.js';

type Call = Promise<Result<HttpResponse, ConnectorError>>;

export type ContainerParams = {
  media_type?: 'VIDEO' | 'REELS' | 'STORIES' | 'CAROUSEL';
  image_url?: string;
  video_url?: string;
  is_carousel_item?: 'true';
  caption?: string;
  alt_text?: string;
  children?: string;
  /** JSON array of usernames. */
  collaborators?: string;
  share_to_feed?: 'true' | 'false';
  thumb_offset?: string;
};

/** A container: invisible (it expires unpublished after 24 h), so never outcome-unknown. */
export function createContainer(base: string, token: string, igUserId: string, p: ContainerParams, signal: AbortSignal): Call {
  return graphPost(base, `/${igUserId}/media`, p, token, signal);
}

/** IN_PROGRESS, FINISHED, PUBLISHED, ERROR (with `status` naming the error code) or EXPIRED. */
export function containerStatus(base: string, token: string, containerId: string, signal: AbortSignal): Call {
  return graphGet(base, `/${containerId}`, { fields: 'id,status_code,status' }, token, signal);
}

/** Makes the post visible: the one call that must never be repeated blindly. */
export function publish(base: string, token: string, igUserId: string, creationId: string, signal: AbortSignal): Call {
  return graphPost(base, `/${igUserId}/media_publish`, { creation_id: creationId }, token, signal, true);
}

export function publishingLimit(base: string, token: string, igUserId: string, signal: AbortSignal): Call {
  return graphGet(base, `/${igUserId}/content_publishing_limit`, { fields: 'quota_usage,config' }, token, signal);
}

export function media(base: string, token: string, mediaId: string, fields: string, signal: AbortSignal): Call {
  return graphGet(base, `/${mediaId}`, { fields }, token, signal);
}

export const LIST_FIELDS = 'id,caption,timestamp,media_product_type,permalink';

/** The account's feed posts and reels (`media`) or its stories of the last day (`stories`), newest first. */
export function listOwn(base: string, token: string, igUserId: string, edge: 'media' | 'stories', since: number, signal: AbortSignal): Call {
  return graphGet(base, `/${igUserId}/${edge}`, { fields: LIST_FIELDS, since: String(since), limit: '50' }, token, signal);
}

export function comment(base: string, token: string, mediaId: string, message: string, signal: AbortSignal): Call {
  return graphPost(base, `/${mediaId}/comments`, { message }, token, signal, true);
}

export function comments(base: string, token: string, mediaId: string, signal: AbortSignal): Call {
  return graphGet(base, `/${mediaId}/comments`, { fields: 'id,text,username,timestamp' }, token, signal);
}
