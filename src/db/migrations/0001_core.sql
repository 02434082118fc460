-- The publishing core: workspaces, API keys, accounts, posts, publications, attempts, events.
-- Every instant is timestamptz (stored in UTC). Ids are prefixed TypeIDs stored as text.

CREATE TABLE workspaces (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- workspace_id NULL = operator key (manages workspaces, never reads tenant data).
CREATE TABLE api_keys (
  id            text PRIMARY KEY,
  workspace_id  text REFERENCES workspaces(id) ON DELETE CASCADE,
  name          text NOT NULL,
  -- SHA-256 of the whole secret: keys are 256-bit random, so a slow hash adds nothing.
  key_hash      bytea NOT NULL UNIQUE,
  display_hint  text NOT NULL,
  scopes        text[] NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, created_at);

CREATE TABLE accounts (
  id               text PRIMARY KEY,
  workspace_id     text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  platform         text NOT NULL,
  external_id      text NOT NULL,
  username         text NOT NULL,
  display_name     text,
  sandbox          boolean NOT NULL DEFAULT false,
  status           text NOT NULL DEFAULT 'connected'
                   CHECK (status IN ('connected', 'reconnect_required', 'disconnected')),
  status_reason    text,
  -- AES-256-GCM envelope (see src/lib/crypto.ts); NULL once disconnected.
  credentials      bytea,
  -- Set by a platform 429: publications of this account are parked until then, not spun.
  blocked_until    timestamptz,
  max_concurrency  integer NOT NULL DEFAULT 4 CHECK (max_concurrency > 0),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  disconnected_at  timestamptz
);
CREATE INDEX accounts_workspace ON accounts (workspace_id, created_at, id);
CREATE UNIQUE INDEX accounts_live_external ON accounts (workspace_id, platform, external_id)
  WHERE status <> 'disconnected';

CREATE TABLE posts (
  id            text PRIMARY KEY,
  workspace_id  text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  text          text NOT NULL,
  media         jsonb NOT NULL DEFAULT '[]',
  options       jsonb NOT NULL DEFAULT '{}',
  -- Derived from the publications and kept in the same transaction as every publication change,
  -- so listing by status is an index scan rather than an aggregate over all publications.
  status        text NOT NULL,
  scheduled_at  timestamptz,
  timezone      text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX posts_workspace_id ON posts (workspace_id, id DESC);
CREATE INDEX posts_workspace_status ON posts (workspace_id, status, id DESC);
CREATE INDEX posts_workspace_scheduled ON posts (workspace_id, scheduled_at);

CREATE TABLE publications (
  id                text PRIMARY KEY,
  workspace_id      text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  post_id           text NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  account_id        text NOT NULL REFERENCES accounts(id),
  platform          text NOT NULL,
  status            text NOT NULL CHECK (status IN (
                      'draft', 'scheduled', 'publishing', 'retrying',
                      'published', 'failed', 'unconfirmed', 'cancelled')),
  -- When the publication is due: the post's time; moved by backoff, Retry-After and account blocks.
  next_attempt_at   timestamptz,
  scheduled_at      timestamptz,
  attempts          integer NOT NULL DEFAULT 0,
  -- True when the last attempt may have reached the platform (timeout, crash): the next step
  -- must read back before it may publish again.
  needs_reconcile   boolean NOT NULL DEFAULT false,
  lease_owner       text,
  lease_expires_at  timestamptz,
  platform_post_id  text,
  platform_url      text,
  error             jsonb,
  published_at      timestamptz,
  finished_at       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (post_id, account_id)
);
CREATE INDEX publications_post ON publications (post_id);
CREATE INDEX publications_account ON publications (account_id, status);
-- The dispatcher's claim scans only what is waiting to run.
CREATE INDEX publications_due ON publications (next_attempt_at)
  WHERE status IN ('scheduled', 'retrying');
-- The sweeper's scan for leases of dead workers.
CREATE INDEX publications_leased ON publications (lease_expires_at)
  WHERE status = 'publishing';

-- One row per try, written before the network call.
CREATE TABLE publication_attempts (
  id              text PRIMARY KEY,
  publication_id  text NOT NULL REFERENCES publications(id) ON DELETE CASCADE,
  workspace_id    text NOT NULL,
  number          integer NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('publish', 'reconcile')),
  worker_id       text NOT NULL,
  started_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  outcome         text CHECK (outcome IN ('published', 'found', 'not_found', 'failed', 'retry', 'unknown')),
  error           jsonb,
  UNIQUE (publication_id, number)
);

-- The outbox: written in the same transaction as the change it describes.
CREATE TABLE events (
  id            text PRIMARY KEY,
  workspace_id  text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  type          text NOT NULL,
  data          jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_workspace ON events (workspace_id, id);

-- scope: the workspace id, or the operator key id for operator calls.
CREATE TABLE idempotency_keys (
  scope          text NOT NULL,
  key            text NOT NULL,
  request_hash   bytea NOT NULL,
  status_code    integer NOT NULL,
  response       jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE worker_heartbeats (
  worker_id     text PRIMARY KEY,
  started_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now()
);

-- Instance-wide facts, e.g. a ciphertext per encryption key id so a wrong key is caught at start.
CREATE TABLE instance_settings (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A post's status is derived from its publications (design.md, "Publication lifecycle"). Kept in SQL so
-- batch updates by the worker derive it in the same statement; src/domain/lifecycle.ts documents it.
CREATE FUNCTION derive_post_status(statuses text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN cardinality(statuses) = 0 THEN 'draft'
    WHEN 'publishing' = ANY(statuses) OR 'retrying' = ANY(statuses) THEN 'publishing'
    WHEN 'scheduled' = ANY(statuses) THEN 'scheduled'
    WHEN 'draft' = ANY(statuses) THEN 'draft'
    WHEN statuses <@ ARRAY['cancelled'] THEN 'cancelled'
    WHEN statuses <@ ARRAY['published', 'cancelled'] THEN 'published'
    WHEN 'published' = ANY(statuses) THEN 'partially_published'
    WHEN 'unconfirmed' = ANY(statuses) THEN 'unconfirmed'
    ELSE 'failed'
  END
$$;
