-- Webhooks, their deliveries and every attempt of each delivery.

CREATE TABLE webhooks (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url                 TEXT    NOT NULL,
    description         TEXT    NOT NULL,
    token_enc           TEXT    NOT NULL DEFAULT '',
    enabled             BOOLEAN NOT NULL,
    on_user_created     BOOLEAN NOT NULL,
    on_user_modified    BOOLEAN NOT NULL,
    on_user_deleted     BOOLEAN NOT NULL,
    on_hwkey_provision  BOOLEAN NOT NULL,
    method              TEXT    NOT NULL,
    -- Added events as ",group_created,group_deleted," so one LIKE finds them.
    events              TEXT    NOT NULL DEFAULT ',',
    secret_enc          TEXT    NOT NULL,
    old_secret_enc      TEXT    NOT NULL DEFAULT '',
    old_secret_until    BIGINT NOT NULL DEFAULT 0,
    disabled_reason     TEXT    NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

-- One row per (event, webhook). state is pending, retrying, succeeded or
-- failed; lease_until > now while an engine has it in flight.
CREATE TABLE deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq       BIGINT NOT NULL REFERENCES events (seq),
    webhook_id      BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    subject         TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    -- attempts since the delivery was last queued, for the retry schedule
    round_attempts  BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    last_status     BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    completed_at    BIGINT NOT NULL DEFAULT 0
);
-- Due work, and the head of each (webhook, subject) queue: only unfinished
-- rows are indexed, so the indexes stay small however long the history.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state IN ('pending', 'retrying');
CREATE INDEX deliveries_queue ON deliveries (webhook_id, subject, id) WHERE state IN ('pending', 'retrying');
CREATE INDEX deliveries_log ON deliveries (webhook_id, id);
CREATE INDEX deliveries_completed ON deliveries (completed_at) WHERE completed_at > 0;

CREATE TABLE attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    n             BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    status_code   BIGINT NOT NULL,
    response_body TEXT    NOT NULL,
    error         TEXT    NOT NULL
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, n);
CREATE INDEX attempts_started ON attempts (started_at);
