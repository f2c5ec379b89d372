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
    WHEN actor LIKE '{%' THEN CASE json_extract(actor, '$.type')
        WHEN 'user' THEN 'user:' || json_extract(actor, '$.username')
        WHEN 'api_token' THEN 'api_token:' || json_extract(actor, '$.token_id') || ' user:' || json_extract(actor, '$.username')
        WHEN 'station' THEN 'station:' || json_extract(actor, '$.station')
        ELSE 'system' END
    WHEN actor LIKE 'worker:%' THEN 'station:' || substr(actor, 8)
    WHEN actor IN ('', 'system', 'cli') THEN 'system'
    ELSE 'user:' || actor END;
