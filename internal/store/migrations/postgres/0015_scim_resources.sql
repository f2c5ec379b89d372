-- The ids SCIM targets (webhooks of kind scim) gave Herald's users and
-- groups: one row per target, kind ('user' or 'group') and name (the
-- username or group name). Deleting the target deletes its ids.
CREATE TABLE scim_resources (
    target_id  BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    kind       TEXT   NOT NULL CHECK (kind IN ('user', 'group')),
    name       TEXT   COLLATE "C" NOT NULL,
    remote_id  TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (target_id, kind, name)
);
