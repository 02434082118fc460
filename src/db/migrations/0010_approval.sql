-- Approval: a post that requires it waits in pending_approval until a key with the `approve` scope (or a
-- reviewer link) approves it (it then publishes at its time or slot) or rejects it (back to draft, with
-- the reason).
ALTER TABLE publications DROP CONSTRAINT publications_status_check;
ALTER TABLE publications ADD CONSTRAINT publications_status_check CHECK (status IN (
  'draft', 'pending_approval', 'scheduled', 'publishing', 'processing', 'retrying',
  'published', 'failed', 'unconfirmed', 'cancelled'));

ALTER TABLE workspaces ADD COLUMN requires_approval boolean NOT NULL DEFAULT false;
ALTER TABLE posts ADD COLUMN requires_approval boolean NOT NULL DEFAULT false;
-- {by: key id or "review_link:<id>", at, reason?}: the last decision on the post.
ALTER TABLE posts ADD COLUMN approval jsonb;

CREATE TABLE review_links (
  id           text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  post_id      text NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  -- SHA-256 of the link's secret part; the link itself is shown once.
  token_hash   bytea NOT NULL UNIQUE,
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  decision     text CHECK (decision IN ('approved', 'rejected')),
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX review_links_post ON review_links (post_id);

CREATE OR REPLACE FUNCTION derive_post_status(statuses text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN cardinality(statuses) = 0 THEN 'draft'
    WHEN 'publishing' = ANY(statuses) OR 'retrying' = ANY(statuses) OR 'processing' = ANY(statuses) THEN 'publishing'
    WHEN 'pending_approval' = ANY(statuses) THEN 'pending_approval'
    WHEN 'scheduled' = ANY(statuses) THEN 'scheduled'
    WHEN 'draft' = ANY(statuses) THEN 'draft'
    WHEN statuses <@ ARRAY['cancelled'] THEN 'cancelled'
    WHEN statuses <@ ARRAY['published', 'cancelled'] THEN 'published'
    WHEN 'published' = ANY(statuses) THEN 'partially_published'
    WHEN 'unconfirmed' = ANY(statuses) THEN 'unconfirmed'
    ELSE 'failed'
  END
$$;
