-- The queue's rows keep no foreign keys: PostgreSQL checks a key with a
-- query of its own for every row inserted, and those queries were two
-- fifths of the time of a fan-out (EXPLAIN ANALYZE: 0.12 of 0.28 ms for an
-- event's ten deliveries) and of a record (0.98 of 2.3 ms for 44
-- outcomes). What the keys guarded holds without them:
--
--   - deliveries are inserted only by directory writes (the fan-out in the
--     statement that inserts their event, replays, test sends), which
--     commit one at a time under the advisory lock, as do the deletes of
--     webhooks and of pruned audit events (PruneAudit deletes an event
--     only once it has no delivery);
--   - attempts are inserted only by the statement that records outcomes,
--     for the deliveries it has just updated (and locked until it
--     commits).
--
-- What the keys did besides, deleting a webhook's deliveries and a
-- delivery's attempts with it, triggers do, once per statement. They
-- keep the search_path of this migration, as a key is bound to its
-- table: a session with another search_path deletes from Herald's
-- tables, not from some other schema's.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_seq_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_webhook_id_fkey;
ALTER TABLE attempts DROP CONSTRAINT attempts_delivery_id_fkey;

CREATE FUNCTION delete_deliveries_of_webhooks() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	DELETE FROM deliveries WHERE webhook_id IN (SELECT id FROM gone);
	RETURN NULL;
END
$$;

CREATE TRIGGER webhooks_delete_deliveries AFTER DELETE ON webhooks
	REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION delete_deliveries_of_webhooks();

CREATE FUNCTION delete_attempts_of_deliveries() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM gone);
	RETURN NULL;
END
$$;

CREATE TRIGGER deliveries_delete_attempts AFTER DELETE ON deliveries
	REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION delete_attempts_of_deliveries();
