-- A SCIM target is a row of webhooks with kind 'scim': it shares the
-- outbox, the queue and the engine; only its sender differs. deprovision
-- ('delete' or 'deactivate') and sync_groups are a SCIM target's settings
-- ('' and false for a webhook). last_resync is the JSON of the last
-- resync's report (herald.SCIMResync), NULL before the first.
ALTER TABLE webhooks ADD COLUMN kind TEXT NOT NULL DEFAULT 'webhook';
ALTER TABLE webhooks ADD COLUMN deprovision TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN sync_groups BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE webhooks ADD COLUMN last_resync TEXT;
