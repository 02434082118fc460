// The closed list of error codes. API codes answer a request; publication codes describe why one post on
// one account did not publish. docs/errors.md is generated from these lists and a test keeps it in sync.

export const API_ERRORS = {
  MALFORMED_JSON: { status: 400, description: 'The body is not valid JSON.' },
  VALIDATION_FAILED: { status: 400, description: 'A field is missing, unknown, of the wrong type or out of range; `details` names each one.' },
  SCHEDULED_AT_INVALID: { status: 400, description: '`scheduled_at` is not an RFC 3339 date-time.' },
  SCHEDULED_AT_NEEDS_OFFSET: { status: 400, description: '`scheduled_at` has no UTC offset and no `timezone` was given to read it in.' },
  SCHEDULED_AT_IN_PAST: { status: 400, description: '`scheduled_at` is before now; omit it to publish now.' },
  TIMEZONE_INVALID: { status: 400, description: '`timezone` is not an IANA time zone name.' },
  CURSOR_INVALID: { status: 400, description: 'The pagination cursor was not produced by this API or has been altered.' },
  UNAUTHENTICATED: { status: 401, description: 'No API key, or an unknown or revoked one. Send `Authorization: Bearer <key>`.' },
  FORBIDDEN: { status: 403, description: 'The key lacks the scope this call needs (e.g. a read-only key writing), or is an operator key calling a workspace route or the reverse.' },
  NOT_FOUND: { status: 404, description: 'No such object in this workspace (objects of other workspaces are not found either), or no such route.' },
  IDEMPOTENCY_KEY_REUSED: { status: 409, description: 'This `Idempotency-Key` was used with a different request body or path.' },
  POST_NOT_EDITABLE: { status: 409, description: 'Part of the post has started publishing, so it can no longer be changed, rescheduled or published early.' },
  MEDIA_NOT_READY: { status: 409, description: 'The media file is not complete yet: finish its upload with POST /v1/media/{id}/complete first.' },
  MEDIA_IN_USE: { status: 409, description: 'A post refers to this media file, so it cannot be deleted.' },
  UPLOAD_INCOMPLETE: { status: 409, description: 'The upload cannot be completed: the bytes (or some parts) never arrived, or their size differs from the announced `size`.' },
  ACCOUNT_NOT_CONNECTED: { status: 409, description: 'The account is disconnected or needs reconnecting; it cannot receive posts.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body is over the size limit.' },
  MEDIA_TOO_LARGE: { status: 413, description: 'The file is over the instance limit (CRIER_MEDIA_MAX_BYTES), or a direct upload is over CRIER_MEDIA_DIRECT_MAX_BYTES (use POST /v1/media/uploads instead).' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'Send `Content-Type: application/json` (or `multipart/form-data` to POST /v1/media).' },
  ACCOUNT_NOT_FOUND: { status: 422, description: 'An account id in the body does not exist in this workspace.' },
  CONTENT_INVALID: { status: 422, description: "The post breaks a target platform's rules (text too long, unsupported option, a file over the platform's limits that Crier may not or cannot adapt); `details` gives each problem per platform, with the limit." },
  MEDIA_NOT_FOUND: { status: 422, description: 'A media id in the body does not exist in this workspace.' },
  MEDIA_FAILED: { status: 422, description: 'A media file could not be fetched, read or adapted; `details` gives its error code and reason.' },
  MEDIA_UNSUPPORTED: { status: 422, description: 'The file is not an image or video Crier can read (detected from its bytes).' },
  URL_NOT_ALLOWED: { status: 422, description: 'The media URL is not allowed: not http(s), carries credentials, or points at a private, loopback or link-local address.' },
  PLATFORM_NOT_SUPPORTED: { status: 422, description: 'No connector exists yet for this platform, or it has no sandbox mode.' },
  SANDBOX_DISABLED: { status: 422, description: 'Sandbox accounts are switched off on this instance (CRIER_SANDBOX=false).' },
  RATE_LIMITED: { status: 429, description: 'Too many requests for this API key; wait for `Retry-After` seconds.' },
  INTERNAL_ERROR: { status: 500, description: 'Something failed inside Crier; the `request_id` finds it in the logs.' },
  SANDBOX_UNAVAILABLE: { status: 502, description: "The sandbox simulator could not be reached to create a sandbox account." },
  SERVICE_UNAVAILABLE: { status: 503, description: 'Crier is starting or shutting down, or its database is unreachable.' },
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export const PUBLICATION_ERRORS = {
  PLATFORM_RATE_LIMITED: "The platform's rate limit was hit; the publication waits for the platform's reset time and retries.",
  PLATFORM_AUTH_EXPIRED: 'The account credentials were refused and could not be refreshed; reconnect the account.',
  PLATFORM_ACCESS_REVOKED: 'The platform revoked access or suspended the account.',
  CONTENT_REJECTED: 'The platform rejected the content (e.g. failed its validation).',
  MEDIA_REJECTED: 'The platform rejected a media file.',
  DUPLICATE_CONTENT: 'The platform refused the post as a duplicate of an earlier one.',
  PLATFORM_UNAVAILABLE: 'The platform answered with a server error (5xx).',
  PLATFORM_TIMEOUT: 'The platform did not answer in time.',
  PLATFORM_UNREACHABLE: 'The platform could not be reached (DNS, refused connection); nothing was sent.',
  PLATFORM_CONNECTION_LOST: 'The connection broke while the request was under way.',
  PLATFORM_ERROR: 'The platform refused the request for a reason with no more specific code; `message` carries its words.',
  ACCOUNT_DISCONNECTED: 'The account was disconnected before the publication ran.',
  OUTCOME_UNKNOWN: 'An attempt may have reached the platform and Crier could not read back whether it published; check the account before posting again.',
  WORKER_LOST: 'The worker publishing this died mid-attempt (its lease expired); the outcome was then read back or marked unknown.',
  CONNECTOR_FAILED: 'The connector crashed unexpectedly; the message names the failure.',
  MEDIA_FAILED: 'A media file of the post could not be fetched, read or adapted for this platform; the message gives the reason.',
  MEDIA_INVALID: "A media file breaks this platform's limits (known once the file was fetched) and could not be adapted; the message names the limit.",
} as const;

export type PublicationErrorCode = keyof typeof PUBLICATION_ERRORS;
