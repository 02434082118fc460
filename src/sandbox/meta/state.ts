// What the Meta simulator keeps: Facebook users (from the OAuth server), their Pages and roles, the
// Instagram professional accounts linked to Pages, and everything published. One state serves both mounts
// (/facebook and /instagram), so an Instagram account behind a Page works through either.
import { createHash } from 'node:crypto';

export type SimPage = {
  id: string;
  name: string;
  username: string;
  /** Facebook user id → the tasks that person has on the Page (CREATE_CONTENT to publish). */
  roles: Map<string, string[]>;
  igUserId?: string;
};

export type SimIgUser = { id: string; username: string; name: string; pageId: string };

export type PostKind = 'status' | 'link' | 'photo' | 'album' | 'video' | 'reel' | 'story';

export type SimPost = {
  /** "{page-id}_{post-id}" */
  id: string;
  pageId: string;
  kind: PostKind;
  message?: string;
  link?: string;
  photoIds?: string[];
  videoId?: string;
  createdAt: number;
  permalink: string;
};

export type SimPhoto = {
  id: string;
  pageId: string;
  url: string;
  published: boolean;
  /** The post it appears in (its own post when published, or the feed post it was attached to). */
  postId?: string;
  media: { mimeType: string; size: number; width?: number; height?: number };
  createdAt: number;
};

export type SimVideo = {
  id: string;
  pageId: string;
  kind: 'video' | 'reel' | 'story';
  title?: string;
  description?: string;
  createdAt: number;
  /** Bytes received (rupload or file_url) and probed. */
  uploadedAt?: number;
  uploadError?: string;
  fileUrl?: string;
  media?: { mimeType: string; size: number; durationMs?: number };
  /** Processing ends this long after the upload; an error found then is kept in processingError. */
  processingError?: string;
  /** finish (Reels, Stories) or the /videos call itself (Page videos) asked for it to be published. */
  publishRequestedAt?: number;
  videoState?: 'PUBLISHED' | 'DRAFT' | 'SCHEDULED';
  postId?: string;
  permalink: string;
};

export type IgMediaType = 'IMAGE' | 'VIDEO' | 'REELS' | 'STORIES' | 'CAROUSEL';

export type SimContainer = {
  id: string;
  igUserId: string;
  mediaType: IgMediaType;
  /** For STORIES and carousel items: the kind of file. */
  fileKind?: 'image' | 'video';
  isCarouselItem: boolean;
  url?: string;
  caption?: string;
  altText?: string;
  children?: string[];
  collaborators?: string[];
  shareToFeed?: boolean;
  createdAt: number;
  fetchedAt?: number;
  /** Instagram's subcode for a container that ended in ERROR (2207052 download, 2207026 video format…). */
  errorCode?: number;
  reason?: string;
  media?: { mimeType: string; size: number; width?: number; height?: number; durationMs?: number };
  usedBy?: string;
  publishedId?: string;
};

export type SimIgMedia = {
  id: string;
  igUserId: string;
  mediaType: 'IMAGE' | 'VIDEO' | 'CAROUSEL_ALBUM';
  productType: 'FEED' | 'REELS' | 'STORY';
  caption?: string;
  altText?: string;
  timestamp: number;
  shortcode: string;
  permalink: string;
  containerId: string;
  mediaUrl?: string;
  children?: { id: string; mediaType: 'IMAGE' | 'VIDEO'; mediaUrl?: string }[];
  collaborators?: string[];
};

export type SimComment = { id: string; targetId: string; text: string; from: { id: string; username?: string; name?: string }; timestamp: number };

export type MetaState = {
  pages: Map<string, SimPage>;
  igUsers: Map<string, SimIgUser>;
  posts: Map<string, SimPost>;
  photos: Map<string, SimPhoto>;
  videos: Map<string, SimVideo>;
  containers: Map<string, SimContainer>;
  igMedia: Map<string, SimIgMedia>;
  comments: Map<string, SimComment>;
  /** Users whose first Page was made for them (a sandbox login always has a Page to choose). */
  seeded: Set<string>;
  nextId(): string;
};

export function createState(): MetaState {
  let seq = 0;
  return {
    pages: new Map(),
    igUsers: new Map(),
    posts: new Map(),
    photos: new Map(),
    videos: new Map(),
    containers: new Map(),
    igMedia: new Map(),
    comments: new Map(),
    seeded: new Set(),
    // Numeric ids as Graph gives them (strings in JSON), unique and increasing.
    nextId: () => `${Date.now()}${String(seq++ % 100_000).padStart(5, '0')}`,
  };
}

/** A numeric Facebook user id for a sandbox username (15 digits, stable across restarts). */
export function facebookUserId(username: string): string {
  const h = BigInt(`0x${createHash('sha256').update(`fb:${username}`).digest('hex').slice(0, 15)}`) % 900_000_000_000_000n;
  return String(100_000_000_000_000n + h);
}

const DAY_MS = 86_400_000;

/** Pages this user may act on, with their tasks. */
export function pagesOf(state: MetaState, userId: string): SimPage[] {
  return [...state.pages.values()].filter((p) => p.roles.has(userId));
}

export function recentReels(state: MetaState, pageId: string, now: number): number {
  return [...state.videos.values()].filter((v) => v.pageId === pageId && v.kind === 'reel' && now - v.createdAt < DAY_MS).length;
}

export function recentIgPublishes(state: MetaState, igUserId: string, now: number): number {
  return [...state.igMedia.values()].filter((m) => m.igUserId === igUserId && now - m.timestamp < DAY_MS).length;
}

/** The Page and Instagram account a Graph id belongs to (for per-account faults and the request log). */
export function ownerOf(state: MetaState, id: string): string | undefined {
  if (state.pages.has(id) || state.igUsers.has(id)) return id;
  const pageOfPost = /^(\d+)_\d+$/.exec(id)?.[1];
  if (pageOfPost && state.pages.has(pageOfPost)) return pageOfPost;
  return state.photos.get(id)?.pageId ?? state.videos.get(id)?.pageId ?? state.containers.get(id)?.igUserId ?? state.igMedia.get(id)?.igUserId;
}

export const ALL_TASKS = ['ANALYZE', 'ADVERTISE', 'MODERATE', 'CREATE_CONTENT', 'MANAGE'];

/** A Page with one person's role on it and, optionally, an Instagram professional account linked to it. */
export function createPage(
  state: MetaState,
  p: { name: string; ownerId: string; tasks?: string[]; instagram?: { username: string; name?: string } },
): { page: SimPage; ig?: SimIgUser } {
  const id = state.nextId();
  const username = p.name.toLowerCase().replace(/[^a-z0-9.]/g, '').slice(0, 40) || `page${id.slice(-6)}`;
  const page: SimPage = { id, name: p.name, username, roles: new Map([[p.ownerId, p.tasks ?? ALL_TASKS]]) };
  state.pages.set(id, page);
  if (!p.instagram) return { page };
  // Instagram professional account ids start 1784… on Graph.
  const ig: SimIgUser = { id: `1784${state.nextId().slice(-13)}`, username: p.instagram.username, name: p.instagram.name ?? p.instagram.username, pageId: id };
  state.igUsers.set(ig.id, ig);
  page.igUserId = ig.id;
  return { page, ig };
}

/** A sandbox login always finds a Page to choose: the first time a user lists Pages, one is made, with an Instagram account. */
export function seedUser(state: MetaState, user: { id: string; username: string }): void {
  if (state.seeded.has(user.id)) return;
  state.seeded.add(user.id);
  if (pagesOf(state, user.id).length > 0) return;
  const ig = user.username.toLowerCase().replace(/[^a-z0-9._]/g, '_').slice(0, 30);
  createPage(state, { name: `${user.username} Page`, ownerId: user.id, instagram: { username: ig, name: user.username } });
}
