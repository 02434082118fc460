// The Facebook Pages calls Crier makes (graph.facebook.com, platforms.md §3). Each returns the raw response;
// the publishing code decides what it means. Media travel as URLs Meta fetches (`url`, `file_url`, rupload's
// `file_url` header), never as bytes through Crier's worker.
import { request, type HttpResponse } from '../http.js';
import { graphGet, graphPost } from '../meta/graph.js';
import type { ConnectorError } from '../types.js';
import type { Result } from '../../lib/result.js';

type Call = Promise<Result<HttpResponse, ConnectorError>>;

/** A photo uploaded unpublished (invisible until a post or story uses it), to attach afterwards. */
export function uploadPhoto(base: string, token: string, pageId: string, url: string, alt: string | undefined, signal: AbortSignal): Call {
  return graphPost(base, `/${pageId}/photos`, { url, published: 'false', alt_text_custom: alt }, token, signal);
}

/** A Page post: text, a link, or photos attached by id. The call that makes it visible. */
export function createPost(base: string, token: string, pageId: string, p: { message?: string; link?: string; photos?: string[] }, signal: AbortSignal): Call {
  const attached = p.photos?.length ? JSON.stringify(p.photos.map((id) => ({ media_fbid: id }))) : undefined;
  return graphPost(base, `/${pageId}/feed`, { message: p.message || undefined, link: p.link, attached_media: attached }, token, signal, true);
}

/** A Page video Meta fetches from `fileUrl`; published once processed. */
export function createVideo(base: string, token: string, pageId: string, p: { fileUrl: string; description?: string; title?: string }, signal: AbortSignal): Call {
  return graphPost(base, `/${pageId}/videos`, { file_url: p.fileUrl, description: p.description || undefined, title: p.title }, token, signal, true);
}

/** video_reels / video_stories, phase start: {video_id, upload_url}. Creates nothing visible. */
export function startUpload(base: string, token: string, pageId: string, edge: 'video_reels' | 'video_stories', signal: AbortSignal): Call {
  return graphPost(base, `/${pageId}/${edge}`, { upload_phase: 'start' }, token, signal);
}

/**
 * rupload: tells Meta where to fetch the file (`file_url` header). rupload wants `offset` and `file_size`
 * even for a hosted file (platforms.md §3, from a client's fix), so both are sent.
 */
export function ruploadHosted(uploadUrl: string, token: string, fileUrl: string, size: number, signal: AbortSignal): Call {
  return request(uploadUrl, { method: 'POST', headers: { authorization: `OAuth ${token}`, file_url: fileUrl, offset: '0', file_size: String(size) }, signal });
}

/** video_reels finish: publishes the reel (once processed) with its description. */
export function finishReel(base: string, token: string, pageId: string, videoId: string, description: string, signal: AbortSignal): Call {
  return graphPost(base, `/${pageId}/video_reels`, { upload_phase: 'finish', video_id: videoId, video_state: 'PUBLISHED', description: description || undefined }, token, signal, true);
}

/** video_stories finish: {success, post_id}. */
export function finishVideoStory(base: string, token: string, pageId: string, videoId: string, signal: AbortSignal): Call {
  return graphPost(base, `/${pageId}/video_stories`, { upload_phase: 'finish', video_id: videoId }, token, signal, true);
}

export function photoStory(base: string, token: string, pageId: string, photoId: string, signal: AbortSignal): Call {
  return graphPost(base, `/${pageId}/photo_stories`, { photo_id: photoId }, token, signal, true);
}

export const VIDEO_FIELDS = 'id,description,created_time,permalink_url,published,status';

export function node(base: string, token: string, id: string, fields: string, signal: AbortSignal): Call {
  return graphGet(base, `/${id}`, { fields }, token, signal);
}

export const POST_FIELDS = 'id,message,created_time,permalink_url,attachments{media_type,url,target{id},subattachments{target{id}}}';

/** The Page's own posts published at or after `since` (epoch seconds), newest first. */
export function publishedPosts(base: string, token: string, pageId: string, since: number, signal: AbortSignal): Call {
  return graphGet(base, `/${pageId}/published_posts`, { fields: POST_FIELDS, since: String(since), limit: '50' }, token, signal);
}

export function pageVideos(base: string, token: string, pageId: string, signal: AbortSignal): Call {
  return graphGet(base, `/${pageId}/videos`, { fields: VIDEO_FIELDS, limit: '50' }, token, signal);
}

export function pageStories(base: string, token: string, pageId: string, signal: AbortSignal): Call {
  return graphGet(base, `/${pageId}/stories`, { fields: 'post_id,status,creation_time,media_type,media_id,url' }, token, signal);
}
