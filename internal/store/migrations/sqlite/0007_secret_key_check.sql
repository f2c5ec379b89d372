-- The secret key's check value: a known text sealed under the key that
-- seals the webhooks' secrets. At start Herald opens it with its key and
-- refuses to run with another one (internal/app/secretkey.go), so a lost
-- or mistyped key is found before anything is sealed or sent with it.
-- One row at most.
CREATE TABLE secret_key_check (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    sealed     TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL
);
