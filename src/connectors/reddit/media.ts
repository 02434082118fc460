// Image posts go through Reddit's media upload lease (platforms.md §10 "Media upload", the flow the web
// client, PRAW and others use; Reddit does not document it): POST /api/media/asset.json names the file
// and its type and returns an S3 form (`args.action`, protocol-relative, and `args.fields`); the file is
// posted to that form as multipart, fields first and the file last; S3 answers 201 with XML whose
// <Location> is the URL that /api/submit then takes as `url` with kind=image.
// Only the lease's host is trusted: outside the sandbox it must be Amazon S3 (the lease could otherwise
// send an account's file anywhere).
import type { Readable } from 'node:stream';
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError, DraftMedia } from '../types.js';
import type { RedditCredentials } from './auth.js';
import * as client from './client.js';
import { mapRedditHttp, mapSubmitErrors, type SubmitErrorTuple } from './errors.js';

type WithToken = (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;
type Lease = { args?: { action?: string; fields?: { name?: string; value?: string }[] }; asset?: { asset_id?: string }; json?: { errors?: SubmitErrorTuple[] } };

const EXT: Record<string, string> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/gif': 'gif' };

const notSent = (e: ConnectorError): ConnectorError => ({ ...e, outcomeUnknown: false });
const mediaFail = (message: string, platformCode: string, retryable: boolean): ConnectorError => ({
  category: retryable ? 'transient' : 'media_error', code: retryable ? 'PLATFORM_UNAVAILABLE' : 'MEDIA_REJECTED', platformCode, message, retryable, outcomeUnknown: false,
});

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

const unxml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Uploads one image; returns the URL /api/submit takes for it. */
export async function uploadImage(ctx: ConnectorCtx<RedditCredentials>, media: DraftMedia, withToken: WithToken): Promise<Result<string, ConnectorError>> {
  const ext = EXT[media.mimeType];
  if (!ext) return err(mediaFail(`Reddit image posts take JPEG, PNG or GIF, not ${media.mimeType}`, 'unsupported_type', false));
  const leased = await withToken((t) => client.mediaAsset(ctx.baseUrl, t, ctx.credentials.username, `image.${ext}`, media.mimeType, ctx.signal));
  if (!leased.ok) return err(notSent(leased.error));
  const res = leased.value;
  if (res.status !== 200) return err(notSent(mapRedditHttp(res, ctx.clock.now(), 'the media upload lease')));
  const lease = (res.body ?? {}) as Lease;
  if (lease.json?.errors?.length) return err(notSent({ ...mapSubmitErrors(lease.json.errors, undefined), category: 'media_error', code: 'MEDIA_REJECTED' }));
  const fields = (lease.args?.fields ?? []).filter((f): f is { name: string; value: string } => typeof f.name === 'string' && typeof f.value === 'string');
  if (!lease.args?.action || fields.length === 0) return err(mediaFail(`Reddit's media lease had no upload form (${res.text.slice(0, 200)})`, 'bad_lease', true));
  let action: URL;
  try {
    action = new URL(lease.args.action, ctx.baseUrl); // "//bucket.s3…": the API's own scheme
  } catch {
    return err(mediaFail(`Reddit's media lease named an unusable upload address (${lease.args.action})`, 'bad_lease', true));
  }
  if (!ctx.sandbox && (action.protocol !== 'https:' || !action.hostname.endsWith('.amazonaws.com'))) {
    return err(mediaFail(`Reddit's media lease pointed outside Amazon S3 (${action.host}); not uploading there`, 'bad_lease', false));
  }
  const data = await bytesOf(await media.open());
  const up = await client.s3Upload(action.toString(), fields, { data, filename: `image.${ext}`, mimeType: media.mimeType }, ctx.signal);
  if (!up.ok) return err(notSent(up.error));
  const s3 = up.value;
  const code = /<Code>([^<]*)<\/Code>/.exec(s3.text)?.[1];
  const said = /<Message>([^<]*)<\/Message>/.exec(s3.text)?.[1];
  if (s3.status >= 500) return err(mediaFail(`the image upload failed at S3 (${s3.status} ${code ?? ''})`, code ?? `http_${s3.status}`, true));
  // An expired lease or policy (AccessDenied) is fixed by a new lease on the next attempt.
  if (s3.status === 403) return err(mediaFail(`S3 refused the image upload: ${unxml(said ?? code ?? 'AccessDenied')}`, code ?? 'AccessDenied', true));
  if (s3.status >= 300) return err(mediaFail(`S3 refused the image: ${unxml(said ?? code ?? `HTTP ${s3.status}`)}`, code ?? `http_${s3.status}`, false));
  const location = /<Location>([^<]*)<\/Location>/.exec(s3.text)?.[1];
  const key = fields.find((f) => f.name === 'key')?.value;
  if (location) return ok(unxml(location));
  if (key) return ok(`${action.toString().replace(/\/$/, '')}/${key}`);
  return err(mediaFail('S3 accepted the image but named no location for it', 'no_location', true));
}
