-- How many publications each account has in flight (its used concurrency), read by every claim.
CREATE INDEX publications_account_publishing ON publications (account_id) WHERE status = 'publishing';
