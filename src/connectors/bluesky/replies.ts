// Replies: a Bluesky reply names its thread's root and its direct parent by strong reference (at:// URI +
// CID). options.bluesky.reply_to takes a post's at:// URI or its bsky.app URL; the post is read with
// com.atproto.repo.getRecord (a PDS serves its own repos and asks the appview for others) to learn its CID
// and, when it is itself a reply, the root of its thread (platforms.md §9, "Threads and replies").
import { err, ok, type Result } from '../../lib/result.js';
import type { ConnectorError } from '../types.js';
import * as client from './client.js';
import { mapXrpcError, xrpcErrorName } from './errors.js';

export const POST_COLLECTION = 'app.bsky.feed.post';

export type StrongRef = { uri: string; cid: string };
export type ReplyRef = { root: StrongRef; parent: StrongRef };

// DID or handle, as AT URIs and bsky.app paths carry them.
const ACTOR = '(did:[a-z]+:[a-zA-Z0-9._:%-]+|[a-zA-Z0-9.-]+)';
const RKEY = '([a-zA-Z0-9._:~-]{1,512})';
const AT_URI = new RegExp(`^at://${ACTOR}/app\\.bsky\\.feed\\.post/${RKEY}$`);
const WEB_URL = new RegExp(`^https://(?:www\\.)?bsky\\.app/profile/${ACTOR}/post/${RKEY}/?(?:[?#].*)?$`);

/** The post a reply_to value points at, or undefined when it is neither form. */
export function parseReplyTarget(value: string): { repo: string; rkey: string } | undefined {
  const m = AT_URI.exec(value.trim()) ?? WEB_URL.exec(value.trim());
  return m ? { repo: m[1]!, rkey: m[2]! } : undefined;
}

export function isStrongRef(v: unknown): v is StrongRef {
  const r = v as Partial<StrongRef> | null;
  return typeof r === 'object' && r !== null && typeof r.uri === 'string' && r.uri.startsWith('at://') && typeof r.cid === 'string' && r.cid.length > 0;
}

/** Reads the post replied to: the reply's parent is that post, its root the post's own root (or itself). */
export async function resolveReplyTarget(baseUrl: string, value: string, now: () => Date, signal: AbortSignal): Promise<Result<ReplyRef, ConnectorError>> {
  const target = parseReplyTarget(value);
  if (!target) {
    return err({ category: 'invalid_content', code: 'CONTENT_REJECTED', message: `reply_to "${value.slice(0, 200)}" is not an at:// URI or bsky.app URL of a post`, retryable: false });
  }
  const got = await client.getRecord(baseUrl, target.repo, POST_COLLECTION, target.rkey, signal);
  if (!got.ok) return err({ ...got.error, outcomeUnknown: false });
  const res = got.value;
  if (res.status !== 200) {
    const name = xrpcErrorName(res);
    if (res.status === 400 && (name === 'RecordNotFound' || name === 'InvalidRequest')) {
      return err({ category: 'invalid_content', code: 'CONTENT_REJECTED', platformCode: name, message: `the post to reply to (${value.slice(0, 200)}) was not found`, retryable: false });
    }
    return err({ ...mapXrpcError(res, now()), outcomeUnknown: false });
  }
  const body = res.body as { uri?: string; cid?: string; value?: { reply?: { root?: unknown } } };
  const parent = { uri: body.uri ?? '', cid: body.cid ?? '' };
  if (!isStrongRef(parent)) {
    return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'getRecord answered without the post\'s URI and CID', retryable: true, outcomeUnknown: false });
  }
  const root = body.value?.reply?.root;
  return ok({ root: isStrongRef(root) ? { uri: root.uri, cid: root.cid } : parent, parent });
}
