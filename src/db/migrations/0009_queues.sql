-- Queues: weekly timeslots in an IANA zone; a post added to a queue takes the next free slot.
CREATE TABLE queues (
  id              text PRIMARY KEY,
  workspace_id    text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  name            text NOT NULL,
  timezone        text NOT NULL,
  -- [{"day": "monday", "time": "09:00"}, ...]: wall-clock times in `timezone`.
  timeslots       jsonb NOT NULL,
  -- Accounts a post added without account_ids goes to.
  account_ids     text[] NOT NULL DEFAULT '{}',
  jitter_minutes  integer NOT NULL DEFAULT 0 CHECK (jitter_minutes BETWEEN 0 AND 60),
  paused          boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queues_workspace ON queues (workspace_id, id);

ALTER TABLE posts ADD COLUMN queue_id text REFERENCES queues(id);
ALTER TABLE posts ADD COLUMN priority text CHECK (priority IN ('high', 'medium', 'low'));
-- The slot the post holds (before jitter); scheduled_at = slot + jitter_ms, chosen once and kept.
ALTER TABLE posts ADD COLUMN queue_slot_at timestamptz;
ALTER TABLE posts ADD COLUMN jitter_ms integer NOT NULL DEFAULT 0;
-- A queued post given a fixed time: it keeps it (and its slot stays taken) when the queue is rearranged.
ALTER TABLE posts ADD COLUMN pinned boolean NOT NULL DEFAULT false;
CREATE INDEX posts_queue ON posts (queue_id, queue_slot_at) WHERE queue_id IS NOT NULL;
