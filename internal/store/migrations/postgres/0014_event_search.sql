-- Pruning the audit log deletes its audit_entry events once their
-- deliveries are done: the deliveries of an event are found by it, and
-- deleting an event checks that none refers to it.
CREATE INDEX deliveries_event ON deliveries (event_seq);

-- What the events page's search reads of an event's actor: its keys
-- (herald.Actor.Keys) joined by spaces, "system" for none, e.g.
-- "api_token:7 user:jdoe". actor is JSON, whose text would not match what
-- the page shows. Events recorded before actors were objects hold a name.
ALTER TABLE events ADD COLUMN actor_keys TEXT NOT NULL DEFAULT '';
UPDATE events SET actor_keys = CASE
    WHEN actor LIKE '{%' THEN CASE actor::json->>'type'
        WHEN 'user' THEN 'user:' || (actor::json->>'username')
        WHEN 'api_token' THEN 'api_token:' || (actor::json->>'token_id') || ' user:' || (actor::json->>'username')
        WHEN 'station' THEN 'station:' || (actor::json->>'station')
        ELSE 'system' END
    WHEN actor LIKE 'worker:%' THEN 'station:' || substr(actor, 8)
    WHEN actor IN ('', 'system', 'cli') THEN 'system'
    ELSE 'user:' || actor END;
