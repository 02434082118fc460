-- Webhooks: endpoints a workspace registered, and one delivery row per (event, endpoint) — the delivery
-- job. Deliveries are created by a trigger in the very transaction that writes the event to the outbox,
-- so an event can never be committed without its deliveries (no dual write, nothing lost in a crash).

CREATE TABLE webhook_endpoints (
  id                     text PRIMARY KEY,
  workspace_id           text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  url                    text NOT NULL,
  description            text,
  -- Event types to send; empty = all.
  events                 text[] NOT NULL DEFAULT '{}',
  enabled                boolean NOT NULL DEFAULT true,
  disabled_reason        text,
  -- AES-256-GCM envelopes (src/lib/crypto.ts) of the whsec_ signing secrets; the previous one keeps
  -- signing (as a second signature) until it expires, so receivers can switch without losing messages.
  secret                 bytea NOT NULL,
  previous_secret        bytea,
  previous_secret_until  timestamptz,
  -- Start of the current run of failures (NULL while healthy); five days of it disables the endpoint.
  failing_since          timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints (workspace_id, id);

CREATE TABLE webhook_deliveries (
  id               text PRIMARY KEY,
  workspace_id     text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  endpoint_id      text NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  event_id         text NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivering', 'succeeded', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  lease_owner      text,
  lease_expires_at timestamptz,
  last_status      integer,
  last_error       text,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (lease_expires_at) WHERE status = 'delivering';

-- Each HTTP attempt of a delivery, for GET /v1/webhooks/{id}/deliveries.
CREATE TABLE webhook_attempts (
  delivery_id    text NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  number         integer NOT NULL,
  started_at     timestamptz NOT NULL,
  latency_ms     integer,
  status         integer,
  error          text,
  response       text,
  PRIMARY KEY (delivery_id, number)
);

-- Fan-out in the event's own transaction. Statement-level, so a batch of events (a burst of results)
-- costs one join, not one lookup per event. `webhook.test` goes only to the endpoint it names.
CREATE FUNCTION webhook_fanout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id)
  SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), e.workspace_id, w.id, e.id
  FROM new_events e
  JOIN webhook_endpoints w ON w.workspace_id = e.workspace_id AND w.enabled
  WHERE (e.type <> 'webhook.test' AND (cardinality(w.events) = 0 OR e.type = ANY(w.events)))
     OR (e.type = 'webhook.test' AND e.data->>'endpoint_id' = w.id);
  IF FOUND THEN
    PERFORM pg_notify('crier_webhooks', '');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER events_webhook_fanout AFTER INSERT ON events REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION webhook_fanout();
