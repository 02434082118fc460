// Did an earlier attempt publish? LinkedIn has no idempotency key and no field Crier could mark a post with
// that it gives back, so the read-back is the author's recent posts (GET /rest/posts?q=author), matched by
// their commentary. Its limits:
// - Only the 50 most recently modified posts are looked at; an account that posted more than that since
//   the lost attempt would hide it.
// - The match is the commentary (as sent, or as plain text should LinkedIn give it back normalised), after
//   the moment this publication first sent its create request (recorded in its checkpoint, ten minutes of
//   clock skew allowed). Without that record (an older publication) any post with the same text matches;
//   LinkedIn refuses identical commentary as a duplicate anyway, so two such posts rarely coexist.
// - A post with no text is matched only when the send time is known.
// - Reading a member's posts needs r_member_social, which LinkedIn grants to few apps (organizations'
//   posts need r_organization_social, which Crier asks for). Without it (a 403):
//   · no create request ever left for this publication → nothing to find (null);
//   · one did, and the post has text → null as well: the next attempt sends the very same request (same
//     file URNs, from the checkpoint), and LinkedIn either creates it, or refuses it as "a duplicate of
//     urn:li:share:N", naming this publication's post, which publish then adopts;
//   · one did, and the post has no text → an error: nothing can tell, so the publication ends unconfirmed.
import { err, ok, type Result } from '../../lib/result.js';
import type { ConnectorCtx, ConnectorError } from '../types.js';
import type { LinkedInCredentials } from './auth.js';
import * as client from './client.js';
import { mapLinkedInError } from './errors.js';
import { toCommentary } from './little-text.js';
import type { WithToken } from './media.js';

const RECENT = 50;
const SKEW_MS = 10 * 60_000;

type PostElement = { id?: string; author?: string; commentary?: string; createdAt?: number; lifecycleState?: string };

/** Little text as people read it: hashtag templates as #tags, escapes removed. */
function plain(commentary: string): string {
  return commentary.replace(/\{hashtag\|\\?[#＃]\|((?:\\.|[^}])*)\}/g, '#$1').replace(/\\(.)/gs, '$1');
}

/** The URN of this publication's post among the author's recent posts, or null. */
export async function findOwnPost(
  ctx: ConnectorCtx<LinkedInCredentials>,
  withToken: WithToken,
  text: string,
  postSentAt: string | null,
): Promise<Result<string | null, ConnectorError>> {
  const author = ctx.credentials.author;
  const commentary = toCommentary(text);
  const got = await withToken((t) => client.postsByAuthor(ctx.baseUrl, t, author, RECENT, ctx.signal));
  if (!got.ok) return got;
  const res = got.value;
  if (res.status === 200) {
    const since = postSentAt ? Date.parse(postSentAt) - SKEW_MS : undefined;
    if (commentary === '' && since === undefined) return ok(null);
    const elements = (res.body as { elements?: PostElement[] } | undefined)?.elements ?? [];
    const wanted = plain(commentary);
    for (const p of elements) {
      if (!p.id || (p.author && p.author !== author)) continue;
      if (p.commentary !== commentary && plain(p.commentary ?? '') !== wanted) continue;
      if (since !== undefined && typeof p.createdAt === 'number' && p.createdAt < since) continue;
      return ok(p.id);
    }
    return ok(null);
  }
  if (res.status === 403 && author.startsWith('urn:li:person:')) {
    if (postSentAt === null || commentary !== '') return ok(null);
    return err({
      category: 'permanent',
      code: 'PLATFORM_ERROR',
      platformCode: 'ACCESS_DENIED',
      message: 'LinkedIn does not let this app read the member\'s posts (r_member_social), and a post without text cannot be told apart by LinkedIn\'s duplicate check; look at the profile before posting again',
      retryable: false,
    });
  }
  return err(mapLinkedInError(res, ctx.clock.now(), 'read'));
}
