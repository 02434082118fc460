-- The claim picks due publications per account (each up to its free concurrency), so one account's
-- backlog can never fill the claim and starve the others. This index serves that per-account pick.
CREATE INDEX publications_account_due ON publications (account_id, next_attempt_at)
  WHERE status IN ('scheduled', 'retrying');
