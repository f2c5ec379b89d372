-- Login throttling, per key: "u:NAME|ADDR" for a username from one client
-- address, "a:ADDR" for the address. attempts counts the logins being
-- checked and those that failed, failures those that failed, both within
-- the window that began at window_start. Attempts are counted in one
-- statement before the password is checked, so concurrent logins cannot
-- get more checks than the limit, on any number of instances. This
-- replaces login_failures (nothing there is worth keeping).
DROP TABLE login_failures;
CREATE TABLE login_attempts (
    key          TEXT    PRIMARY KEY,
    attempts     INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL
);
CREATE INDEX login_attempts_window ON login_attempts (window_start);

-- Station tokens may expire (NULL: never) and say when they were last used.
ALTER TABLE worker_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE worker_tokens ADD COLUMN last_used_at INTEGER;
