// Every connector, by platform id. Adding a platform means adding its line here.
import { blueskyConnector } from './bluesky/connector.js';
import { facebookConnector } from './facebook/connector.js';
import { instagramConnector } from './instagram/connector.js';
import { linkedinConnector } from './linkedin/connector.js';
import { mastodonConnector } from './mastodon/connector.js';
import { pinterestConnector } from './pinterest/connector.js';
import { redditConnector } from './reddit/connector.js';
import { threadsConnector } from './threads/connector.js';
import { xConnector } from './x/connector.js';
import { youtubeConnector } from './youtube/connector.js';
import type { PlatformConnector, PlatformId } from './types.js';

const connectors: Partial<Record<PlatformId, PlatformConnector<any>>> = {
  bluesky: blueskyConnector,
  facebook: facebookConnector,
  instagram: instagramConnector,
  linkedin: linkedinConnector,
  mastodon: mastodonConnector,
  pinterest: pinterestConnector,
  reddit: redditConnector,
  threads: threadsConnector,
  x: xConnector,
  youtube: youtubeConnector,
};

export function getConnector(platform: string): PlatformConnector<unknown> | undefined {
  return connectors[platform as PlatformId];
}

export function supportedPlatforms(): PlatformId[] {
  return Object.keys(connectors) as PlatformId[];
}

/** The real API endpoint per platform; sandbox accounts use `<sandbox url>/<platform>` instead. */
export const PLATFORM_BASE_URLS: Partial<Record<PlatformId, string>> = {
  bluesky: 'https://bsky.social',
  facebook: 'https://graph.facebook.com',
  // Instagram with Facebook Login lives on the Graph API host too.
  instagram: 'https://graph.facebook.com',
  linkedin: 'https://api.linkedin.com',
  pinterest: 'https://api.pinterest.com',
  // Reddit's OAuth API host (www.reddit.com serves the authorize page and the token endpoint).
  reddit: 'https://oauth.reddit.com',
  threads: 'https://graph.threads.net',
  x: 'https://api.x.com',
  // Both the Data API (/youtube/v3) and uploads (/upload/youtube/v3) live here.
  youtube: 'https://www.googleapis.com',
};
