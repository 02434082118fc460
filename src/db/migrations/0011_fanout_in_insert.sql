-- Deliveries are now created by the statement that inserts the events (src/db/queries/events.ts: one
-- statement, same transaction), not by a trigger: a statement-level trigger with a transition table made
-- every event insert pay for materialising its rows, also in workspaces without endpoints.
DROP TRIGGER events_webhook_fanout ON events;
DROP FUNCTION webhook_fanout();
