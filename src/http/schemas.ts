// Schemas of the API's resources: they validate, serialize and become the OpenAPI document.
import { Type, type TSchema } from 'typebox';
import { POST_STATUSES, PUBLICATION_STATUSES } from '../domain/lifecycle.js';
import { ERROR_CATEGORIES, PLATFORMS } from '../connectors/types.js';
import { API_ERRORS } from './error-codes.js';

export const nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);
export const instant = (description: string) => Type.String({ format: 'date-time', description });
export const literalUnion = (values: readonly string[], description?: string) => Type.Union(values.map((v) => Type.Literal(v)), { description });

export const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9a-z]{26}$`, description: `\`${prefix}_\` id` });

export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object({
      code: literalUnion(Object.keys(API_ERRORS), 'One of the documented error codes (docs/errors.md).'),
      message: Type.String(),
      request_id: Type.String(),
      details: Type.Array(Type.Object({ message: Type.String() }, { additionalProperties: true })),
    }),
  },
  { $id: 'Error', description: 'Every error has this shape.' },
);

export const Workspace = Type.Object(
  { id: Id('ws'), name: Type.String(), requires_approval: Type.Boolean(), created_at: instant('UTC'), updated_at: instant('UTC') },
  { $id: 'Workspace' },
);

export const ApiKey = Type.Object(
  {
    id: Id('key'),
    workspace_id: Id('ws'),
    name: Type.String(),
    scopes: Type.Array(literalUnion(['read', 'write', 'approve'])),
    display_hint: Type.String({ description: 'Prefix and last characters, to recognise the key.' }),
    created_at: instant('UTC'),
    last_used_at: nullable(instant('UTC, updated at most once a minute')),
    revoked_at: nullable(instant('UTC')),
  },
  { $id: 'ApiKey' },
);

export const Account = Type.Object(
  {
    id: Id('acct'),
    platform: literalUnion(PLATFORMS),
    username: Type.String(),
    display_name: nullable(Type.String()),
    external_id: Type.String({ description: "The account's id on the platform (a DID on Bluesky)." }),
    sandbox: Type.Boolean({ description: "Backed by Crier's simulator of the platform." }),
    kind: nullable(Type.String({ description: "What it is on the platform: 'user', 'member', 'organization', 'page', 'instagram_business'…" })),
    route: Type.String({ description: "How it publishes: 'direct' (Crier's connector with the account's own tokens) or 'provider:postforme' / 'provider:late' (connected on an aggregator provider; publications fail over between the workspace's and the operator's provider keys)." }),
    status: literalUnion(['connected', 'reconnect_required', 'disconnected']),
    status_reason: nullable(Type.String()),
    blocked_until: nullable(instant('The platform rate-limited this account; publications wait until then.')),
    auth_expires_at: nullable(instant('When the current access token expires (refreshed ahead of time where the platform allows; otherwise reconnect before then).')),
    created_at: instant('UTC'),
    updated_at: instant('UTC'),
  },
  { $id: 'Account' },
);

export const PublicationErrorSchema = Type.Object(
  {
    code: Type.String({ description: 'A publication error code (docs/errors.md).' }),
    category: literalUnion(ERROR_CATEGORIES),
    platform_code: Type.Optional(nullable(Type.String({ description: "The platform's own error name." }))),
    message: Type.String(),
    retryable: Type.Boolean(),
  },
  { $id: 'PublicationError' },
);

export const Publication = Type.Object(
  {
    id: Id('pub'),
    account_id: Id('acct'),
    platform: literalUnion(PLATFORMS),
    status: literalUnion(PUBLICATION_STATUSES),
    scheduled_at: nullable(instant('When it is due (UTC).')),
    next_attempt_at: nullable(instant('When the next attempt runs, while scheduled or retrying.')),
    attempts: Type.Integer(),
    waiting_for_media: Type.Boolean({ description: "True while the post's media (or this platform's adapted copy) is still being fetched or processed; it publishes when ready, or fails with the reason." }),
    platform_post_id: nullable(Type.String()),
    url: nullable(Type.String()),
    route: nullable(Type.String({ description: "The route that published it: 'direct', or '<provider>:<workspace|operator>' for an account connected on a provider (e.g. 'late:workspace')." })),
    error: nullable(Type.Ref('PublicationError')),
    published_at: nullable(instant('UTC')),
    finished_at: nullable(instant('When it reached a terminal status.')),
    created_at: instant('UTC'),
    updated_at: instant('UTC'),
  },
  { $id: 'Publication' },
);

export const Post = Type.Object(
  {
    id: Id('post'),
    status: literalUnion(POST_STATUSES, 'Derived from the publications.'),
    text: Type.String(),
    media: Type.Array(
      Type.Object({ id: Id('med'), alt_text: nullable(Type.String()), adapt: Type.Boolean(), pad: Type.Boolean() }),
      { description: 'Files in the order the platforms receive them; GET /v1/media/{id} tells their state.' },
    ),
    options: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
    scheduled_at: nullable(instant('UTC instant it is (or was) due; null for a draft with no time.')),
    timezone: nullable(Type.String({ description: 'IANA zone the time was given in, if any.' })),
    requires_approval: Type.Boolean({ description: 'Publishing waits for an approval.' }),
    approval: nullable(
      Type.Object({
        decision: literalUnion(['approved', 'rejected']),
        by: Type.String({ description: 'The API key id, or `review_link:<id>`.' }),
        at: instant('UTC'),
        reason: Type.Optional(Type.String()),
      }, { description: 'The last decision on this post.' }),
    ),
    queue: nullable(
      Type.Object({
        id: Type.String(),
        priority: literalUnion(['high', 'medium', 'low']),
        slot_at: nullable(instant('The slot the post holds; `scheduled_at` is it plus the jitter chosen when the post was queued.')),
        pinned: Type.Boolean({ description: 'Given a fixed time: kept when the queue is rearranged.' }),
      }),
    ),
    publications: Type.Array(Type.Ref('Publication')),
    created_at: instant('UTC'),
    updated_at: instant('UTC'),
  },
  { $id: 'Post' },
);

const MediaError = Type.Object({ code: Type.String(), message: Type.String() });

export const Rendition = Type.Object(
  {
    profile: Type.String({ description: 'The adaptation made for a platform (e.g. a JPEG within Bluesky\'s 1,000,000 bytes).' }),
    status: literalUnion(['pending', 'processing', 'ready', 'failed']),
    progress: Type.Number({ description: '0 to 1 while processing.' }),
    content_type: nullable(Type.String()),
    size: nullable(Type.Integer()),
    width: nullable(Type.Integer()),
    height: nullable(Type.Integer()),
    error: nullable(MediaError),
  },
  { $id: 'Rendition' },
);

export const Media = Type.Object(
  {
    id: Id('med'),
    status: literalUnion(['awaiting_upload', 'processing', 'ready', 'failed'], 'awaiting_upload → processing (URL ingest) → ready, or failed with `error`.'),
    source: literalUnion(['upload', 'url']),
    source_url: nullable(Type.String()),
    filename: nullable(Type.String()),
    kind: nullable(literalUnion(['image', 'video'])),
    content_type: nullable(Type.String({ description: 'Detected from the bytes, not taken from the client.' })),
    size: nullable(Type.Integer()),
    width: nullable(Type.Integer()),
    height: nullable(Type.Integer()),
    duration_ms: nullable(Type.Integer()),
    video_codec: nullable(Type.String()),
    audio_codec: nullable(Type.String()),
    frame_rate: nullable(Type.Number()),
    bit_rate: nullable(Type.Integer()),
    sha256: nullable(Type.String()),
    error: nullable(MediaError),
    renditions: Type.Array(Type.Ref('Rendition')),
    created_at: instant('UTC'),
    ready_at: nullable(instant('UTC')),
  },
  { $id: 'Media' },
);

export const SHARED_SCHEMAS = [ErrorEnvelope, Workspace, ApiKey, Account, PublicationErrorSchema, Publication, Post, Rendition, Media];

export const page = <T extends TSchema>(item: T) =>
  Type.Object({
    data: Type.Array(item),
    next_cursor: nullable(Type.String({ description: 'Pass as `cursor` for the next page; null on the last page.' })),
  });

export const Pagination = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
};

/** Error responses a route documents, by status. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref('Error')]));
}
