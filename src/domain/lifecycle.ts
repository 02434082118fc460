// Publication and post states. The transitions themselves are enforced by the SQL that performs them
// (each UPDATE names the states it may leave); this file names the states and groups them.
//
//   draft ─► (pending_approval ─► approved, or rejected back to draft) ─► scheduled ─► publishing ─► published
//                ▲            ├─► retrying ──(next attempt)──► publishing
//   cancelled ◄──┘            ├─► failed        (permanent, auth, or retries used up)
//                             ├─► unconfirmed   (outcome unknown and read-back impossible)
//                             └─► processing ──(status check)──► publishing   (the platform is processing it)
//
// A post's status is derived (SQL function derive_post_status): any publication in flight → publishing;
// else any scheduled → scheduled; else any draft → draft; all cancelled → cancelled; all published
// (ignoring cancelled) → published; some published → partially_published; any unconfirmed →
// unconfirmed; otherwise failed.

export const PUBLICATION_STATUSES = [
  'draft',
  'pending_approval',
  'scheduled',
  'publishing',
  'processing',
  'retrying',
  'published',
  'failed',
  'unconfirmed',
  'cancelled',
] as const;
export type PublicationStatus = (typeof PUBLICATION_STATUSES)[number];

export const POST_STATUSES = [
  'draft',
  'pending_approval',
  'scheduled',
  'publishing',
  'published',
  'partially_published',
  'failed',
  'unconfirmed',
  'cancelled',
] as const;
export type PostStatus = (typeof POST_STATUSES)[number];

export const TERMINAL_POST: readonly PostStatus[] = ['published', 'partially_published', 'failed', 'unconfirmed', 'cancelled'];
