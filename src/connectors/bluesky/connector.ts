// Bluesky (AT Protocol): posts with images or a video (media.ts: uploadBlob, then an embed), a deterministic
// record key per publication, session refresh with rotation, and read-back by record key. Facets and threads
// arrive with the "Real connectors I" issue; the limits below are the real ones (platforms.md §9).
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import { graphemeCount, utf8Bytes } from '../../domain/text.js';
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError, Issue, PlatformConnector, PublicationDraft, Published } from '../types.js';
import * as client from './client.js';
import { isExpiredToken, mapXrpcError, xrpcErrorName } from './errors.js';
import { embedMedia, mediaIssues } from './media.js';
import { tidForPublication } from './tid.js';

export type BlueskyCredentials = client.BlueskySession & { appPassword?: string };

const COLLECTION = 'app.bsky.feed.post';
const LIMITS = { text: { maxLength: 300, counting: 'graphemes' as const, maxBytes: 3000 } };

const optionsSchema = Type.Object(
  {
    text: Type.Optional(Type.String({ description: 'Replaces the post text on Bluesky.' })),
    langs: Type.Optional(
      Type.Array(Type.String({ pattern: '^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$' }), { maxItems: 3, description: 'BCP-47 language tags.' }),
    ),
  },
  { additionalProperties: false },
);

function validate(draft: { text: string; media: { kind: 'image' | 'video' }[] }): Issue[] {
  const issues: Issue[] = [];
  const graphemes = graphemeCount(draft.text);
  if (graphemes > LIMITS.text.maxLength) {
    issues.push({ code: 'TEXT_TOO_LONG', field: 'text', limit: LIMITS.text.maxLength, actual: graphemes, message: `Bluesky allows ${LIMITS.text.maxLength} graphemes; this text has ${graphemes}` });
  }
  const bytes = utf8Bytes(draft.text);
  if (bytes > LIMITS.text.maxBytes) {
    issues.push({ code: 'TEXT_TOO_LONG', field: 'text', limit: LIMITS.text.maxBytes, actual: bytes, message: `Bluesky allows ${LIMITS.text.maxBytes} bytes of UTF-8; this text has ${bytes}` });
  }
  if (draft.text.trim().length === 0 && draft.media.length === 0) {
    issues.push({ code: 'TEXT_EMPTY', field: 'text', message: 'Bluesky needs text when a post has no media' });
  }
  issues.push(...mediaIssues(draft.media));
  return issues;
}

function postUrl(ctx: ConnectorCtx<BlueskyCredentials>, rkey: string): string {
  // Sandbox accounts get a page on the simulator; real ones the bsky.app page.
  const web = ctx.sandbox ? ctx.baseUrl.replace(/\/$/, '') : 'https://bsky.app';
  return `${web}/profile/${ctx.credentials.handle}/post/${rkey}`;
}

function published(ctx: ConnectorCtx<BlueskyCredentials>, rkey: string, uri: string): Published {
  return { platformPostId: uri, url: postUrl(ctx, rkey) };
}

/** Runs `call` with the access token, refreshing (and persisting the rotated pair) once if it expired. */
async function withSession(
  ctx: ConnectorCtx<BlueskyCredentials>,
  call: (accessJwt: string) => Promise<Result<HttpResponse, ConnectorError>>,
): Promise<Result<HttpResponse, ConnectorError>> {
  const first = await call(ctx.credentials.accessJwt);
  if (!first.ok || !isExpiredToken(first.value)) return first;
  const renewed = await renewSession(ctx);
  if (!renewed.ok) return renewed;
  return call(renewed.value.accessJwt);
}

async function renewSession(ctx: ConnectorCtx<BlueskyCredentials>): Promise<Result<BlueskyCredentials, ConnectorError>> {
  const now = ctx.clock.now();
  const refreshed = await client.refreshSession(ctx.baseUrl, ctx.credentials.refreshJwt, ctx.signal);
  if (!refreshed.ok) return refreshed;
  let res = refreshed.value;
  if (res.status !== 200 && isExpiredToken(res) && ctx.credentials.appPassword) {
    const created = await client.createSession(ctx.baseUrl, ctx.credentials.did, ctx.credentials.appPassword, ctx.signal);
    if (!created.ok) return created;
    res = created.value;
  }
  if (res.status !== 200) return err(mapXrpcError(res, now));
  const session = res.body as client.BlueskySession;
  const next: BlueskyCredentials = { ...ctx.credentials, accessJwt: session.accessJwt, refreshJwt: session.refreshJwt, handle: session.handle ?? ctx.credentials.handle };
  // The old refresh token is spent: store the new pair before anything else can fail.
  await ctx.saveCredentials(next);
  ctx.credentials = next;
  return ok(next);
}

async function publish(ctx: ConnectorCtx<BlueskyCredentials>, draft: PublicationDraft): Promise<Result<Published, ConnectorError>> {
  const rkey = tidForPublication(draft.publicationId);
  const record: Record<string, unknown> = { $type: COLLECTION, text: draft.text, createdAt: ctx.clock.now().toISOString() };
  const langs = draft.options['langs'];
  if (Array.isArray(langs) && langs.length > 0) record['langs'] = langs;
  if (draft.media.length > 0) {
    const embed = await embedMedia(ctx, draft.media, (call) => withSession(ctx, call));
    if (!embed.ok) return embed;
    record['embed'] = embed.value;
  }
  const sent = await withSession(ctx, (jwt) =>
    client.createRecord(ctx.baseUrl, jwt, { repo: ctx.credentials.did, collection: COLLECTION, rkey, record }, ctx.signal),
  );
  if (!sent.ok) return sent;
  const res = sent.value;
  if (res.status === 200) return ok(published(ctx, rkey, (res.body as { uri: string }).uri));
  return err(mapXrpcError(res, ctx.clock.now()));
}

async function findExisting(ctx: ConnectorCtx<BlueskyCredentials>, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>> {
  const rkey = tidForPublication(draft.publicationId);
  const got = await client.getRecord(ctx.baseUrl, ctx.credentials.did, COLLECTION, rkey, ctx.signal);
  if (!got.ok) return got;
  const res = got.value;
  if (res.status === 200) return ok(published(ctx, rkey, (res.body as { uri: string }).uri));
  if (res.status === 400 && xrpcErrorName(res) === 'RecordNotFound') return ok(null);
  return err(mapXrpcError(res, ctx.clock.now()));
}

async function createSandboxAccount(baseUrl: string, username: string) {
  const signal = AbortSignal.timeout(10_000);
  const password = randomBytes(18).toString('base64url');
  let handle = `${username.toLowerCase()}.sandbox.test`;
  let res = await client.createAccount(baseUrl, handle, password, signal);
  if (res.ok && xrpcErrorName(res.value) === 'HandleNotAvailable') {
    handle = `${username.toLowerCase()}-${randomBytes(3).toString('hex')}.sandbox.test`;
    res = await client.createAccount(baseUrl, handle, password, signal);
  }
  if (!res.ok) throw new Error(`sandbox simulator unreachable at ${baseUrl}: ${res.error.message}`);
  if (res.value.status !== 200) throw new Error(`sandbox simulator refused the account: ${res.value.text.slice(0, 200)}`);
  const session = res.value.body as client.BlueskySession;
  return {
    externalId: session.did,
    username: session.handle,
    displayName: username,
    credentials: { ...session, appPassword: password },
  };
}

export const blueskyConnector: PlatformConnector<BlueskyCredentials> = {
  id: 'bluesky',
  limits: LIMITS,
  optionsSchema,
  validate,
  publish,
  findExisting,
  sandbox: { createAccount: createSandboxAccount },
};
