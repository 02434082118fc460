-- Daily quotas Crier counts per app before spending them (YouTube: units per Google Cloud project and
-- Pacific day), and aggregator providers as delivery routes (platforms.md §12).

CREATE TABLE platform_quota (
  platform  text NOT NULL,
  -- oauth_apps.id, or 'operator' (the operator's configured app), or 'sandbox'.
  app_key   text NOT NULL,
  -- The platform's day (its reset time zone's date).
  day       date NOT NULL,
  used      integer NOT NULL CHECK (used >= 0),
  PRIMARY KEY (platform, app_key, day)
);

-- A workspace's API keys for aggregator providers, in its failover order (position 1 first).
CREATE TABLE provider_keys (
  id            text PRIMARY KEY,
  workspace_id  text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  provider      text NOT NULL CHECK (provider IN ('postforme', 'late')),
  position      integer NOT NULL CHECK (position > 0),
  -- A key of the provider's simulator (sandbox mode), made by Crier.
  sandbox       boolean NOT NULL DEFAULT false,
  -- AES-256-GCM envelope of the key (src/lib/crypto.ts), bound to this row.
  api_key       bytea NOT NULL,
  -- The key's last four characters, to tell keys apart without revealing them.
  key_hint      text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider)
);

-- How an account publishes: 'direct' (Crier's own connector and the account's tokens) or
-- 'provider:<name>' (an account connected on an aggregator provider; publications fail over between routes).
ALTER TABLE accounts ADD COLUMN route text NOT NULL DEFAULT 'direct'
  CHECK (route IN ('direct', 'provider:postforme', 'provider:late'));
-- Which route published a publication: 'direct', or '<provider>:<workspace|operator>'.
ALTER TABLE publications ADD COLUMN route text;
