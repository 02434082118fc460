// Instagram's content rules (platforms.md §4 "Limits", the error codes reference): captions of 2,200
// characters with at most 30 hashtags and 20 @mentions, 1 to 10 files, collaborators only on feed posts,
// reels and carousels (at most 3). Post kinds: one image is a feed image, one video a reel (Instagram
// publishes single videos as reels since 2023), 2–10 files a carousel; a story is one file, with no caption.
import type { Issue } from '../types.js';

export const CAPTION_MAX = 2_200;
export const HASHTAGS_MAX = 30;
export const MENTIONS_MAX = 20;
export const CAROUSEL_MAX = 10;
export const COLLABORATORS_MAX = 3;

export type InstagramOptions = {
  kind?: 'feed' | 'reel' | 'story';
  first_comment?: string;
  collaborators?: string[];
  share_to_feed?: boolean;
  thumb_offset?: number;
};

export type PostShape = 'image' | 'reel' | 'carousel' | 'story';

/** What the post becomes on Instagram; undefined when the media do not make any post. */
export function shapeOf(o: InstagramOptions, media: { kind: 'image' | 'video' }[]): PostShape | undefined {
  if (media.length === 0) return undefined;
  if (o.kind === 'story') return media.length === 1 ? 'story' : undefined;
  if (o.kind === 'reel') return media.length === 1 && media[0]!.kind === 'video' ? 'reel' : undefined;
  if (media.length === 1) return media[0]!.kind === 'video' ? 'reel' : 'image';
  return 'carousel';
}

export const hashtags = (text: string) => text.match(/(^|[^\w&])#[\p{L}\p{N}_]+/gu)?.length ?? 0;
export const mentions = (text: string) => text.match(/(^|[^\w])@[A-Za-z0-9._]+/g)?.length ?? 0;

export function validateInstagram(text: string, o: InstagramOptions, media: { kind: 'image' | 'video' }[]): Issue[] {
  const issues: Issue[] = [];
  const story = o.kind === 'story';
  if (!story) {
    const n = [...text].length;
    if (n > CAPTION_MAX) issues.push({ code: 'TEXT_TOO_LONG', field: 'text', limit: CAPTION_MAX, actual: n, message: `Instagram allows ${CAPTION_MAX} characters in a caption; this text has ${n}` });
    const tags = hashtags(text);
    if (tags > HASHTAGS_MAX) issues.push({ code: 'OPTION_INVALID', field: 'text', limit: HASHTAGS_MAX, actual: tags, message: `Instagram allows ${HASHTAGS_MAX} hashtags in a caption; this text has ${tags}` });
    const at = mentions(text);
    if (at > MENTIONS_MAX) issues.push({ code: 'OPTION_INVALID', field: 'text', limit: MENTIONS_MAX, actual: at, message: `Instagram allows ${MENTIONS_MAX} @mentions in a caption; this text has ${at}` });
  }
  if (media.length === 0) issues.push({ code: 'MEDIA_REQUIRED', field: 'media', message: 'an Instagram post needs at least one image or video' });
  if (media.length > CAROUSEL_MAX) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: CAROUSEL_MAX, actual: media.length, message: `an Instagram carousel takes at most ${CAROUSEL_MAX} images and videos` });
  if (story && media.length > 1) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: 1, actual: media.length, message: 'an Instagram story is one image or video' });
  if (o.kind === 'reel' && (media.length > 1 || media.some((m) => m.kind !== 'video'))) {
    issues.push({ code: media.length > 1 ? 'TOO_MANY_MEDIA' : 'MEDIA_UNSUPPORTED_TYPE', field: 'media', message: 'an Instagram reel is one video' });
  }
  const shape = shapeOf(o, media);
  if (story && o.first_comment !== undefined) issues.push({ code: 'OPTION_INVALID', field: 'options.instagram.first_comment', message: 'stories take no comments' });
  if (story && o.collaborators !== undefined) issues.push({ code: 'OPTION_INVALID', field: 'options.instagram.collaborators', message: 'collaborators can be invited to feed posts, reels and carousels, not stories' });
  if ((o.share_to_feed !== undefined || o.thumb_offset !== undefined) && shape !== 'reel' && shape !== undefined) {
    issues.push({ code: 'OPTION_INVALID', field: o.share_to_feed !== undefined ? 'options.instagram.share_to_feed' : 'options.instagram.thumb_offset', message: 'share_to_feed and thumb_offset apply to reels only' });
  }
  return issues;
}
