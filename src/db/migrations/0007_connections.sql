-- OAuth connections (a flow in progress that ends by creating or refreshing accounts), the apps they use,
-- and what the token lifecycle needs on accounts.

-- An app registered with a platform that is not the operator's configured one: a workspace's own app
-- ("bring your own app"), or the app Crier registered on a Mastodon instance (workspace_id NULL).
CREATE TABLE oauth_apps (
  id             text PRIMARY KEY,
  workspace_id   text REFERENCES workspaces(id) ON DELETE CASCADE,
  platform       text NOT NULL,
  instance_url   text,
  client_id      text NOT NULL,
  -- AES-256-GCM envelope of the client secret (src/lib/crypto.ts), bound to this row.
  client_secret  bytea NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX oauth_apps_instance ON oauth_apps (platform, instance_url) WHERE workspace_id IS NULL;
CREATE UNIQUE INDEX oauth_apps_workspace ON oauth_apps (workspace_id, platform, coalesce(instance_url, '')) WHERE workspace_id IS NOT NULL;

CREATE TABLE connections (
  id            text PRIMARY KEY,
  workspace_id  text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  platform      text NOT NULL,
  sandbox       boolean NOT NULL,
  status        text NOT NULL CHECK (status IN ('pending', 'exchanging', 'choosing', 'completed', 'failed')),
  -- SHA-256 of the state sent to the platform: the state itself is a bearer secret until it is used.
  state_hash    bytea NOT NULL UNIQUE,
  redirect_url  text NOT NULL,
  instance_url  text,
  app_id        text REFERENCES oauth_apps(id) ON DELETE CASCADE,
  -- Encrypted: the PKCE verifier while pending; the candidate accounts' credentials while choosing.
  secrets       bytea,
  -- Public part of the candidates: [{external_id, username, display_name, kind}].
  candidates    jsonb,
  account_ids   text[] NOT NULL DEFAULT '{}',
  error         jsonb,
  expires_at    timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_workspace ON connections (workspace_id, id);

ALTER TABLE accounts ADD COLUMN kind text;
ALTER TABLE accounts ADD COLUMN app_id text REFERENCES oauth_apps(id);
ALTER TABLE accounts ADD COLUMN instance_url text;
-- When the access token expires (NULL: does not, or unknown) and when the token job next looks at it:
-- a refresh ahead of expiry, or a reconnect warning for tokens that cannot be refreshed.
ALTER TABLE accounts ADD COLUMN token_expires_at timestamptz;
ALTER TABLE accounts ADD COLUMN next_token_check_at timestamptz;
ALTER TABLE accounts ADD COLUMN token_failures integer NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN reconnect_warned_at timestamptz;
CREATE INDEX accounts_token_check ON accounts (next_token_check_at) WHERE status = 'connected';
