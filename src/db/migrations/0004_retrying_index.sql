-- /metrics counts retrying publications on every scrape; without this, that count scanned every row.
CREATE INDEX publications_retrying ON publications (next_attempt_at) WHERE status = 'retrying';
