// Reading back whether an earlier attempt created the pin. Pinterest has no idempotency key and no field
// that carries a marker without showing it to people (the private `note` is visible to the owner in the
// app, so it is not used), so the evidence is the board itself: GET /v5/boards/{id}/pins lists it newest
// first; a pin created since the attempt began (less some clock slack) with the same title, description,
// link, section, alt text and kind of media (image, carousel, video) is taken as the one Crier created.
// Limits: a pin the user made by hand with exactly these fields in that window would be taken for Crier's;
// two pins that differ only by their picture look the same.
import { err, ok, type Result } from '../../lib/result.js';
import type { ConnectorCtx, ConnectorError, PublicationDraft, Published } from '../types.js';
import type { PinterestCredentials } from './auth.js';
import * as client from './client.js';
import { mapPinterestError } from './errors.js';
import { pinFields, published, readState, tokenRunner } from './publish.js';

const SLACK_MS = 5 * 60_000;
const DEFAULT_LOOKBACK_MS = 24 * 3600_000;
const MAX_PAGES = 5;

type Pin = { id?: string; created_at?: string; title?: string | null; description?: string | null; link?: string | null; alt_text?: string | null; board_section_id?: string | null; media?: { media_type?: string } };

/** Pinterest's created_at has no zone ("2020-01-01T20:10:40"); it is UTC. */
const instant = (s: string | undefined) => (s ? Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`) : Number.NaN);
const same = (a: string | null | undefined, b: string | undefined) => (a ?? '') === (b ?? '');

export async function findExisting(ctx: ConnectorCtx<PinterestCredentials>, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>> {
  const cp = readState(draft.checkpoint);
  if (cp.pinId) return ok(published(ctx, cp.pinId));
  // Attempts record when the pin request was first sent: a checkpoint without it means it never was.
  if (draft.checkpoint && !cp.since) return ok(null);
  const fields = pinFields(draft);
  if (!fields.board_id) return ok(null);
  const since = (cp.since ? Date.parse(cp.since) : ctx.clock.now().getTime() - DEFAULT_LOOKBACK_MS) - SLACK_MS;
  const kind = draft.media.length === 1 ? draft.media[0]!.kind : 'multiple_images';
  const withToken = tokenRunner(ctx);
  let bookmark: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const got = await withToken((t) => client.boardPins(ctx.baseUrl, t, fields.board_id, bookmark, ctx.signal));
    if (!got.ok) return got;
    if (got.value.status !== 200) return err(mapPinterestError(got.value, ctx.clock.now()));
    const body = (got.value.body ?? {}) as { items?: Pin[]; bookmark?: string | null };
    for (const p of body.items ?? []) {
      const at = instant(p.created_at);
      if (at < since) return ok(null); // newest first: everything further is older
      const media = p.media?.media_type;
      const kindMatches = media === undefined || media === kind || (kind === 'multiple_images' && media === 'multiple_images');
      if (p.id && kindMatches && same(p.title, fields.title) && same(p.description, fields.description) && same(p.link, fields.link)
        && same(p.board_section_id, fields.board_section_id) && same(p.alt_text, fields.alt_text)) {
        return ok(published(ctx, p.id));
      }
    }
    bookmark = body.bookmark ?? undefined;
    if (!bookmark) break;
  }
  return ok(null);
}
