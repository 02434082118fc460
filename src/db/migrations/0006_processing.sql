-- Publications the platform is still processing (an Instagram container, a video being transcoded): the
-- worker keeps the platform's reference and checks again later instead of holding a worker slot, and
-- multi-step publications (threads) save their progress so a retry continues instead of re-posting.
ALTER TABLE publications DROP CONSTRAINT publications_status_check;
ALTER TABLE publications ADD CONSTRAINT publications_status_check CHECK (status IN (
  'draft', 'scheduled', 'publishing', 'processing', 'retrying',
  'published', 'failed', 'unconfirmed', 'cancelled'));
-- {ref, note}: what the connector's checkStatus continues from; kept through retries, cleared at the end.
ALTER TABLE publications ADD COLUMN pending jsonb;
ALTER TABLE publications ADD COLUMN pending_since timestamptz;
-- What ctx.checkpoint saved (e.g. ids of the thread's posts published so far).
ALTER TABLE publications ADD COLUMN checkpoint jsonb;
-- Status checks of a processing publication: they are attempts too (recorded before the call, since a
-- check may publish, e.g. Instagram's media_publish), but do not use up the retry budget.
ALTER TABLE publications ADD COLUMN checks integer NOT NULL DEFAULT 0;
ALTER TABLE publication_attempts DROP CONSTRAINT publication_attempts_kind_check;
ALTER TABLE publication_attempts ADD CONSTRAINT publication_attempts_kind_check CHECK (kind IN ('publish', 'reconcile', 'check'));
ALTER TABLE publication_attempts DROP CONSTRAINT publication_attempts_outcome_check;
ALTER TABLE publication_attempts ADD CONSTRAINT publication_attempts_outcome_check
  CHECK (outcome IN ('published', 'found', 'not_found', 'failed', 'retry', 'unknown', 'processing'));

DROP INDEX publications_due;
CREATE INDEX publications_due ON publications (next_attempt_at) WHERE status IN ('scheduled', 'retrying', 'processing');
DROP INDEX publications_account_due;
CREATE INDEX publications_account_due ON publications (account_id, next_attempt_at)
  WHERE status IN ('scheduled', 'retrying', 'processing');

CREATE OR REPLACE FUNCTION derive_post_status(statuses text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN cardinality(statuses) = 0 THEN 'draft'
    WHEN 'publishing' = ANY(statuses) OR 'retrying' = ANY(statuses) OR 'processing' = ANY(statuses) THEN 'publishing'
    WHEN 'scheduled' = ANY(statuses) THEN 'scheduled'
    WHEN 'draft' = ANY(statuses) THEN 'draft'
    WHEN statuses <@ ARRAY['cancelled'] THEN 'cancelled'
    WHEN statuses <@ ARRAY['published', 'cancelled'] THEN 'published'
    WHEN 'published' = ANY(statuses) THEN 'partially_published'
    WHEN 'unconfirmed' = ANY(statuses) THEN 'unconfirmed'
    ELSE 'failed'
  END
$$;
