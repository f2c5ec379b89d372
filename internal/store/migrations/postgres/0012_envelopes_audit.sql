-- Change envelopes, echo suppression, group filters and the audit log.

-- The subject's state before the change, rendered like payload; NULL when
-- there was none (a *_created event). Stored with the event so that a
-- later change never alters what an earlier event sends.
ALTER TABLE events ADD COLUMN previous TEXT;

-- format: 'defguard' (the payload as it is) or 'envelope'.
-- ignore_actors: ",api_token:7,user:jdoe,station:desk-1," and only_groups:
-- ",devs,ops," so that one strpos() finds an entry; ',' for none.
ALTER TABLE webhooks ADD COLUMN format TEXT NOT NULL DEFAULT 'defguard';
ALTER TABLE webhooks ADD COLUMN ignore_actors TEXT NOT NULL DEFAULT ',';
ALTER TABLE webhooks ADD COLUMN only_groups TEXT NOT NULL DEFAULT ',';

-- The audit log: who did what to which target, from which client address.
-- actor is the JSON of herald.Actor, actor_keys its keys (herald.Actor.Keys)
-- as ",api_token:7,user:jdoe," for the actor filter.
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT  NOT NULL,
    action      TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    actor_keys  TEXT    NOT NULL,
    client      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
