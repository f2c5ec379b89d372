-- Due deliveries of one webhook, for claims made webhook by webhook: a
-- webhook at its cap costs nothing however long its queue.
CREATE INDEX deliveries_webhook_due ON deliveries (webhook_id, next_attempt_at, id) WHERE state IN ('pending', 'retrying');
