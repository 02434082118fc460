// Connecting a YouTube channel (platforms.md §7 "Auth"): Google's OAuth 2.0 code flow with PKCE,
// `access_type=offline` and `prompt=consent` (so a refresh token is issued on every consent), code
// exchanged at oauth2.googleapis.com/token with the client in the form body. Access tokens last an hour;
// refresh tokens do not rotate (the generic client keeps the stored one); `invalid_grant` means revoked or
// expired (apps in "Testing" get 7-day refresh tokens): reconnect. One login may reach one channel
// (`channels?mine=true`); a Google account without a channel cannot publish.
import { err, ok } from '../../lib/result.js';
import type { OAuth2Auth, OAuthTokens } from '../auth-types.js';
import { request } from '../http.js';
import { mapYouTubeError } from './errors.js';

export type YouTubeCredentials = OAuthTokens & { channelId: string; uploadsPlaylist: string; title: string };

const AUTH = 'https://www.googleapis.com/auth/';
/** Upload (videos.insert, thumbnails.set) and read (processing status, the uploads list for read-back). */
export const YOUTUBE_SCOPES = [AUTH + 'youtube.upload', AUTH + 'youtube.readonly'];

type Channel = { id?: string; snippet?: { title?: string; customUrl?: string }; contentDetails?: { relatedPlaylists?: { uploads?: string } } };

export const youtubeAuth: OAuth2Auth<YouTubeCredentials> = {
  kind: 'oauth2',
  authorizeEndpoint: { origin: 'https://accounts.google.com', path: '/o/oauth2/v2/auth' },
  tokenEndpoint: { origin: 'https://oauth2.googleapis.com', path: '/token' },
  revokeEndpoint: { origin: 'https://oauth2.googleapis.com', path: '/revoke' },
  scopes: YOUTUBE_SCOPES,
  scopeSeparator: ' ',
  pkce: true,
  clientAuth: 'body',
  extraAuthorizeParams: { access_type: 'offline', prompt: 'consent', include_granted_scopes: 'true' },

  async accounts(ctx, tokens) {
    const sent = await request(`${ctx.baseUrl}/youtube/v3/channels?part=snippet,contentDetails&mine=true`, { headers: { authorization: `Bearer ${tokens.accessToken}` }, signal: ctx.signal });
    if (!sent.ok) return sent;
    if (sent.value.status !== 200) return err(mapYouTubeError(sent.value, ctx.clock.now(), 'listing the channels'));
    const channels = ((sent.value.body as { items?: Channel[] })?.items ?? []).filter((c) => c.id);
    if (channels.length === 0) return err({ category: 'permanent', code: 'PLATFORM_ERROR', platformCode: 'youtubeSignupRequired', message: 'this Google account has no YouTube channel: create one on youtube.com, then connect again', retryable: false });
    const { raw: _raw, ...stored } = tokens;
    return ok(channels.map((c) => {
      const title = c.snippet?.title ?? c.id!;
      return {
        externalId: c.id!,
        username: c.snippet?.customUrl?.replace(/^@/, '') ?? title,
        displayName: title,
        kind: 'channel',
        credentials: { ...stored, channelId: c.id!, uploadsPlaylist: c.contentDetails?.relatedPlaylists?.uploads ?? `UU${c.id!.slice(2)}`, title },
      };
    }));
  },
};
