// Every connector, by platform id. Adding a platform means adding its line here.
import { blueskyConnector } from './bluesky/connector.js';
import type { PlatformConnector, PlatformId } from './types.js';

const connectors: Partial<Record<PlatformId, PlatformConnector<any>>> = {
  bluesky: blueskyConnector,
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
};
