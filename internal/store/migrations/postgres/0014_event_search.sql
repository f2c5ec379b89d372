-- Pruning the audit log deletes its audit_entry events once their
-- deliveries are done: the deliveries of an event are found by it, and
-- deleting an event checks that none refers to it.
CREATE INDEX deliveries_event ON deliveries (event_seq);
