// The event catalog: every event type Crier emits, the schema of its `data`, and a sample (for the
// OpenAPI document's `webhooks` section and for Zapier/Make trigger setup via GET /v1/events/samples).
// Every event is sent in one envelope: {id, type, created_at, workspace_id, data}.
import { Type, type TSchema } from 'typebox';

const nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);
const instant = (description?: string) => Type.String({ format: 'date-time', description });
const PublicationError = Type.Object({
  code: Type.String(),
  category: Type.String(),
  platform_code: nullable(Type.String()),
  message: Type.String(),
  retryable: Type.Boolean(),
});

const PostData = Type.Object({ post_id: Type.String(), status: Type.String(), scheduled_at: nullable(instant('UTC')) });
const PublicationData = Type.Object({
  publication_id: Type.String(),
  post_id: Type.String(),
  account_id: Type.String(),
  platform: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  platform_post_id: nullable(Type.String()),
  url: nullable(Type.String()),
  error: nullable(PublicationError),
  next_attempt_at: nullable(instant('When the next attempt (retrying) or status check (processing) runs.')),
  published_at: nullable(instant()),
});
const AccountData = Type.Object({ account_id: Type.String(), platform: Type.String() }, { additionalProperties: true });

const samplePost = { post_id: 'post_01jd8x3k2mfq8t6y9w4z5v7b1c', status: 'scheduled', scheduled_at: '2026-12-01T09:00:00.000Z' };
const samplePublication = {
  publication_id: 'pub_01jd8x3k2nfq8t6y9w4z5v7b1d',
  post_id: samplePost.post_id,
  account_id: 'acct_01jd8x2a7efq8t6y9w4z5v7b1e',
  platform: 'bluesky',
  status: 'published',
  attempts: 1,
  platform_post_id: 'at://did:plc:abc123/app.bsky.feed.post/3lbx2y7k4ws2c',
  url: 'https://bsky.app/profile/example.bsky.social/post/3lbx2y7k4ws2c',
  error: null,
  next_attempt_at: null,
  published_at: '2026-12-01T09:00:01.204Z',
};
const failure = { code: 'PLATFORM_RATE_LIMITED', category: 'rate_limited', platform_code: 'RateLimitExceeded', message: 'Rate Limit Exceeded', retryable: true };

type Entry = { description: string; data: TSchema; sample: Record<string, unknown> };

export const EVENT_CATALOG: Record<string, Entry> = {
  'post.created': { description: 'A post was created (as a draft, scheduled, or to publish now).', data: PostData, sample: samplePost },
  'post.updated': { description: 'A post that had not started publishing was changed.', data: PostData, sample: samplePost },
  'post.scheduled': { description: 'A post was scheduled, rescheduled or released to publish now.', data: PostData, sample: samplePost },
  'post.deleted': {
    description: 'A post was deleted; what had not published was cancelled.',
    data: Type.Object({ post_id: Type.String(), cancelled_publication_ids: Type.Array(Type.String()) }),
    sample: { post_id: samplePost.post_id, cancelled_publication_ids: [samplePublication.publication_id] },
  },
  'post.completed': {
    description: 'Every publication of the post reached a final state; `summary` counts them by status.',
    data: Type.Object({ post_id: Type.String(), status: Type.String(), summary: Type.Record(Type.String(), Type.Integer()) }),
    sample: { post_id: samplePost.post_id, status: 'partially_published', summary: { published: 2, failed: 1 } },
  },
  'publication.published': { description: 'The post is live on one account: platform post id and URL.', data: PublicationData, sample: samplePublication },
  'publication.failed': {
    description: 'The post could not be published on one account; `error` says why.',
    data: PublicationData,
    sample: { ...samplePublication, status: 'failed', platform_post_id: null, url: null, published_at: null, error: { code: 'CONTENT_REJECTED', category: 'invalid_content', platform_code: 'InvalidRequest', message: 'Record/text must not be longer than 300 graphemes', retryable: false } },
  },
  'publication.retrying': {
    description: 'An attempt failed and will be retried at `next_attempt_at`.',
    data: PublicationData,
    sample: { ...samplePublication, status: 'retrying', platform_post_id: null, url: null, published_at: null, error: failure, next_attempt_at: '2026-12-01T09:15:00.000Z' },
  },
  'publication.processing': {
    description: 'The platform accepted the post and is processing it (a video, an Instagram container); Crier checks again at `next_attempt_at`.',
    data: PublicationData,
    sample: { ...samplePublication, platform: 'instagram', status: 'processing', platform_post_id: null, url: null, published_at: null, next_attempt_at: '2026-12-01T09:00:31.000Z' },
  },
  'publication.unconfirmed': {
    description: 'An attempt may have published and Crier could not confirm it; check the account before posting again.',
    data: PublicationData,
    sample: { ...samplePublication, status: 'unconfirmed', platform_post_id: null, url: null, published_at: null, error: { code: 'OUTCOME_UNKNOWN', category: 'transient', platform_code: null, message: 'the platform did not answer in time; it may or may not have published it', retryable: false } },
  },
  'account.connected': {
    description: 'An account was connected or reconnected (`reconnected: true`).',
    data: AccountData,
    sample: { account_id: samplePublication.account_id, platform: 'linkedin', username: 'Example Org', kind: 'organization', sandbox: false, reconnected: false },
  },
  'account.disconnected': {
    description: 'An account was disconnected (through the API, or because the platform revoked access); `reason` says which.',
    data: AccountData,
    sample: { account_id: samplePublication.account_id, platform: 'x', reason: 'the platform refused to refresh the access token (invalid_grant)' },
  },
  'account.reconnect_required': {
    description: 'The account must be reconnected: its token expired, or (with `expires_at` in the future) will expire and cannot be refreshed.',
    data: AccountData,
    sample: { account_id: samplePublication.account_id, platform: 'linkedin', reason: 'the access token expires on 2026-12-08T10:00:00.000Z and cannot be refreshed; reconnect before then', expires_at: '2026-12-08T10:00:00.000Z' },
  },
  'api_key.created': { description: 'An API key of the workspace was created.', data: Type.Object({ api_key_id: Type.String(), name: Type.String(), scopes: Type.Array(Type.String()) }), sample: { api_key_id: 'key_01jd8x1m5qfq8t6y9w4z5v7b1f', name: 'ci', scopes: ['read', 'write'] } },
  'api_key.revoked': { description: 'An API key of the workspace was revoked.', data: Type.Object({ api_key_id: Type.String() }), sample: { api_key_id: 'key_01jd8x1m5qfq8t6y9w4z5v7b1f' } },
  'endpoint.disabled': {
    description: 'A webhook endpoint was disabled: it answered 410 Gone, or failed continuously for 5 days.',
    data: Type.Object({ endpoint_id: Type.String(), url: Type.String(), reason: Type.String() }),
    sample: { endpoint_id: 'wh_01jd8x0p3rfq8t6y9w4z5v7b1g', url: 'https://hooks.example.com/crier', reason: 'the endpoint answered 410 Gone' },
  },
  'webhook.test': {
    description: 'Sent by POST /v1/webhooks/{id}/test to that endpoint only.',
    data: Type.Object({ endpoint_id: Type.String(), message: Type.String() }),
    sample: { endpoint_id: 'wh_01jd8x0p3rfq8t6y9w4z5v7b1g', message: 'This is a test event from Crier.' },
  },
};

export const EVENT_TYPES = Object.keys(EVENT_CATALOG);

/** The envelope every event is delivered (and listed) in. */
export function envelope(e: { id: string; type: string; created_at: Date; workspace_id: string; data: unknown }) {
  return { id: e.id, type: e.type, created_at: e.created_at.toISOString(), workspace_id: e.workspace_id, data: e.data };
}

/** The OpenAPI 3.1 `webhooks` section: one entry per event type, with the envelope and its data schema. */
export function openApiWebhooks(): Record<string, object> {
  const headers = {
    'webhook-id': { required: true, schema: { type: 'string' }, description: 'The event id: the same on every attempt; deduplicate on it.' },
    'webhook-timestamp': { required: true, schema: { type: 'string' }, description: 'Unix seconds when this attempt was signed.' },
    'webhook-signature': { required: true, schema: { type: 'string' }, description: 'Space-separated `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per valid secret (Standard Webhooks).' },
  };
  return Object.fromEntries(
    Object.entries(EVENT_CATALOG).map(([type, e]) => [
      type,
      {
        post: {
          summary: type,
          description: e.description,
          parameters: Object.entries(headers).map(([name, h]) => ({ name, in: 'header', ...h })),
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: Type.Object({ id: Type.String(), type: Type.Literal(type), created_at: Type.String({ format: 'date-time' }), workspace_id: Type.String(), data: e.data }),
                example: { id: 'evt_01jd8x0000sample0000000000', type, created_at: '2026-12-01T09:00:01.204Z', workspace_id: 'ws_01jd8wz9g5fq8t6y9w4z5v7b1h', data: e.sample },
              },
            },
          },
          responses: { '2XX': { description: 'Received. 410 disables the endpoint; anything else is retried.' } },
        },
      },
    ]),
  );
}
