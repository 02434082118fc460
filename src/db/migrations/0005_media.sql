-- The media pipeline: files a workspace uploads or Crier ingests from a URL, their per-platform renditions,
-- and publications held until the media they need is ready.

CREATE TABLE media (
  id                text PRIMARY KEY,
  workspace_id      text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  -- awaiting_upload: an upload was announced, bytes not yet complete; processing: being fetched or probed;
  -- ready: stored and probed; failed: `error` says why. A media row doubles as the ingest job (like a
  -- publication is the publish job): the worker claims `processing` rows that have a source_url.
  status            text NOT NULL CHECK (status IN ('awaiting_upload', 'processing', 'ready', 'failed')),
  source            text NOT NULL CHECK (source IN ('upload', 'url')),
  source_url        text,
  filename          text,
  declared_type     text,
  declared_size     bigint,
  storage_key       text NOT NULL,
  -- S3 multipart upload in progress.
  upload_id         text,
  size              bigint,
  sha256            text,
  kind              text CHECK (kind IN ('image', 'video')),
  mime_type         text,
  -- What the probe found (src/media/types.ts MediaInfo).
  info              jsonb,
  error             jsonb,
  attempts          integer NOT NULL DEFAULT 0,
  lease_owner       text,
  lease_expires_at  timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  ready_at          timestamptz
);
CREATE INDEX media_workspace ON media (workspace_id, id DESC);
CREATE INDEX media_to_ingest ON media (created_at) WHERE status = 'processing' AND source = 'url';
-- Retention: the sweeper looks for old media no post refers to.
CREATE INDEX media_created ON media (created_at);

-- One adapted copy of a file for a platform profile (src/media/profiles.ts), made once and reused.
-- The row is the render job.
CREATE TABLE media_renditions (
  media_id          text NOT NULL REFERENCES media(id) ON DELETE CASCADE,
  profile           text NOT NULL,
  workspace_id      text NOT NULL,
  status            text NOT NULL CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
  storage_key       text NOT NULL,
  info              jsonb,
  error             jsonb,
  progress          real NOT NULL DEFAULT 0,
  attempts          integer NOT NULL DEFAULT 0,
  lease_owner       text,
  lease_expires_at  timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  ready_at          timestamptz,
  PRIMARY KEY (media_id, profile)
);
CREATE INDEX media_renditions_pending ON media_renditions (created_at) WHERE status = 'pending';
CREATE INDEX media_renditions_leased ON media_renditions (lease_expires_at) WHERE status = 'processing';

-- posts.media holds the post's files in order: [{"media_id", "alt_text", "adapt", "pad"}]. The GIN index
-- answers "does any post refer to this file" for retention and deletion.
CREATE INDEX posts_media ON posts USING gin (media jsonb_path_ops);

-- A publication whose media is not ready yet waits with next_attempt_at NULL (so the claim never sees it)
-- until the file and its rendition are ready, or fails with the reason.
ALTER TABLE publications ADD COLUMN waiting_for_media boolean NOT NULL DEFAULT false;
-- Which file each media slot sends to this platform: [{"media_id", "profile"}] (profile null = original).
ALTER TABLE publications ADD COLUMN media_plan jsonb;
CREATE INDEX publications_waiting_for_media ON publications (post_id) WHERE waiting_for_media;
