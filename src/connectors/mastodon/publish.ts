// Publishing on Mastodon (platforms.md §11 "Publishing"): check the instance's own limits, upload the
// attachments and wait for their processing (media.ts), then POST /api/v1/statuses once per part of the
// publication (a thread is a chain of replies). Progress is checkpointed at every step, and a checkpoint
// naming the part is saved before each POST, so a later attempt continues from there and reads back the
// one status whose answer it may have missed (readback.ts) instead of posting it again.
//
// Idempotency-Key: each POST carries `crier-<publication id>-<part>`. Mastodon keeps a key per account for
// one hour after the status was created and answers a repeat with that same status (even if the body
// differs), so a retry within the hour cannot duplicate. It does NOT guarantee: anything after the hour
// (the key is gone: hence the read-back first); a repeat that arrives while the first request is still
// being processed (the key is stored only once the status exists, mastodon#21840); a status deleted since
// (the repeat fails instead); servers that implement Mastodon's API without keys (some forks).
import { err, ok, type Result } from '../../lib/result.js';
import type { ConnectorError, Pending, PublicationDraft, Published } from '../types.js';
import * as client from './client.js';
import { isMediaNotReady, mapMastodonError } from './errors.js';
import { instanceLimits } from './instance.js';
import { uploadOne, waitProcessed } from './media.js';
import { apiBase, idempotencyKey, partCount, partText, replyTarget, type Ctx, type MastodonOptions, type MastodonState } from './parts.js';
import { locate, urlOf } from './readback.js';
import { statusLength, type InstanceLimits } from './text.js';

// Most videos process within seconds; Crier looks again soon, the worker's pending deadline bounds it.
const CHECK_AFTER_MS = 5_000;

/** What the instance will refuse, known before anything is uploaded or posted. */
function limitProblem(draft: PublicationDraft, limits: InstanceLimits, host: string): ConnectorError | undefined {
  const o = draft.options as MastodonOptions;
  const refuse = (message: string, media = false): ConnectorError => ({ category: media ? 'media_error' : 'invalid_content', code: media ? 'MEDIA_INVALID' : 'CONTENT_REJECTED', platformCode: 'instance_limit', message, retryable: false });
  for (let k = 0; k < partCount(draft); k++) {
    const n = statusLength(partText(draft, k), o.spoiler_text ?? '', limits.charactersReservedPerUrl);
    if (n > limits.maxCharacters) {
      const which = k === 0 ? 'the status' : `post ${k + 1} of the thread`;
      return refuse(`${host} allows ${limits.maxCharacters} characters in a status (content warning included, a link counting ${limits.charactersReservedPerUrl}); ${which} counts ${n}`);
    }
  }
  if (draft.media.length > limits.maxMediaAttachments) return refuse(`${host} allows ${limits.maxMediaAttachments} attachments in a status; this post has ${draft.media.length}`, true);
  for (const [i, m] of draft.media.entries()) {
    // A GIF is checked as an image (it is made into a video only after it was accepted).
    const max = m.kind === 'video' ? limits.videoSizeLimit : limits.imageSizeLimit;
    if (m.size > max) return refuse(`file ${i + 1} is ${m.size} bytes; ${host} takes ${m.kind === 'video' ? 'videos' : 'images'} up to ${max} bytes`, true);
    if (limits.supportedMimeTypes.length > 0 && !limits.supportedMimeTypes.includes(m.mimeType)) return refuse(`file ${i + 1} is ${m.mimeType}, which ${host} does not take`, true);
    if ((m.alt ?? '').length > limits.descriptionLimit) return refuse(`the alt text of file ${i + 1} has ${m.alt!.length} characters; ${host} allows ${limits.descriptionLimit}`);
  }
  return undefined;
}

function pending(state: MastodonState): Pending {
  return { pending: { ref: state as Record<string, unknown>, checkAfterMs: CHECK_AFTER_MS, note: 'Mastodon is processing the attachments' } };
}

/** Takes the publication as far as it can go now: Published, Pending (media processing), or an error. */
export async function advance(ctx: Ctx, draft: PublicationDraft, start: MastodonState | null): Promise<Result<Published | Pending, ConnectorError>> {
  const base = apiBase(ctx);
  const token = ctx.credentials.accessToken;
  let state: MastodonState = { ...(start ?? {}), posted: [...(start?.posted ?? [])] };
  const save = async (next: MastodonState) => {
    state = next;
    await ctx.checkpoint(next as Record<string, unknown>);
  };
  const total = partCount(draft);
  const o = draft.options as MastodonOptions;
  // Once part of a thread is live, an error says so: the next attempt continues after those statuses.
  const failed = (e: ConnectorError) => err(state.posted.length === 0 ? e : { ...e, message: `${e.message} (already published on Mastodon: ${state.posted.join(', ')}; a retry continues after them)` });

  if (state.posted.length === 0) {
    const limits = await instanceLimits(base, ctx.clock.now().getTime(), ctx.signal);
    if (!limits.ok) return err({ ...limits.error, outcomeUnknown: false });
    const problem = limitProblem(draft, limits.value, new URL(base).host);
    if (problem) return err(problem);
  }

  let mediaIds: string[] = [];
  if (state.posted.length === 0 && draft.media.length > 0) {
    const uploads = [...(state.uploads ?? [])];
    for (let i = uploads.length; i < draft.media.length; i++) {
      const up = await uploadOne(ctx, base, draft.media[i]!, i);
      if (!up.ok) return up;
      uploads.push(up.value);
      await save({ ...state, uploads: [...uploads] });
    }
    if (uploads.some((u) => !u.ready)) {
      const waited = await waitProcessed(ctx, base, uploads);
      if (!waited.ok) return waited;
      if ('gone' in waited.value) {
        // Unattached media is removed by the instance after a while: upload the files again next time.
        await save({ ...state, uploads: undefined });
        return err({ category: 'transient', code: 'PLATFORM_ERROR', message: `attachment ${waited.value.gone} is no longer on the instance; the files are uploaded again`, retryable: true, outcomeUnknown: false });
      }
      if (waited.value.some((u, i) => u.ready !== uploads[i]!.ready)) await save({ ...state, uploads: waited.value });
      if (waited.value.some((u) => !u.ready)) return ok(pending(state));
    }
    mediaIds = state.uploads!.map((u) => u.id);
  }

  let parent: string | null = null;
  if (state.posted.length === 0) {
    const target = await replyTarget(ctx, draft);
    if (!target.ok) return err({ ...target.error, outcomeUnknown: false });
    parent = target.value;
  }

  for (let k = state.posted.length; k < total; k++) {
    if (k > 0) parent = state.posted[k - 1]!;
    // An earlier attempt sent this part and did not hear back: it may be live. Look before posting again.
    if (state.sending?.index === k) {
      const found = await locate(ctx, draft, k, parent, state.sending.at, state.posted);
      if (!found.ok) return failed(found.error);
      if (found.value) {
        await save({ ...state, posted: [...state.posted, found.value.id], url: k === 0 ? urlOf(found.value) : state.url, sending: undefined, uploads: k === 0 ? undefined : state.uploads });
        continue;
      }
    }
    const params: client.StatusParams = {
      status: partText(draft, k),
      media_ids: k === 0 && mediaIds.length > 0 ? mediaIds : undefined,
      in_reply_to_id: parent ?? undefined,
      visibility: o.visibility,
      spoiler_text: o.spoiler_text || undefined,
      sensitive: o.sensitive,
      language: o.language,
    };
    const resending = state.sending?.index === k;
    await save({ ...state, sending: { index: k, at: ctx.clock.now().toISOString() } });
    const sent = await client.createStatus(base, token, params, idempotencyKey(draft, k), ctx.signal);
    if (!sent.ok) return failed(sent.error);
    const res = sent.value;
    if (res.status !== 200) {
      if (isMediaNotReady(res)) return ok(pending(state));
      const e = mapMastodonError(res, ctx.clock.now(), k === 0 ? 'the status' : `post ${k + 1} of the thread`);
      // Attachments that vanished (or were taken by a status whose answer was lost and not found above).
      if (res.status === 422 && /not found or already attached/i.test(e.message)) {
        if (resending) return failed({ ...e, category: 'transient', code: 'OUTCOME_UNKNOWN', retryable: true, outcomeUnknown: true, message: `${e.message}: an earlier attempt may have published them` });
        await save({ ...state, uploads: undefined, sending: undefined });
        return failed({ ...e, category: 'transient', retryable: true, message: `${e.message}; the files are uploaded again` });
      }
      return failed(e);
    }
    const b = (res.body ?? {}) as { id?: unknown; url?: string | null; uri?: string };
    if (typeof b.id !== 'string' && typeof b.id !== 'number') {
      return failed({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: 'Mastodon answered the status without an id', retryable: true, outcomeUnknown: true });
    }
    await save({ ...state, posted: [...state.posted, String(b.id)], url: k === 0 ? urlOf(b) : state.url, sending: undefined, uploads: k === 0 ? undefined : state.uploads });
  }
  return ok({ platformPostId: state.posted[0]!, url: state.url! });
}
