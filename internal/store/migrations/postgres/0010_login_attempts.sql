-- Login throttling keys name a username by its SHA-256 ("u:HEX|ADDR"):
-- what someone types as a username may well be their password. Forget the
-- counts kept under the username as typed.
DELETE FROM login_attempts WHERE key LIKE 'u:%';

-- When the newest attempt of a key was counted. Attempts still counted as
-- being checked long after it were lost (a crash, a failed write of their
-- outcome) and are forgotten, so they cannot hold a key's limit for the
-- rest of its window.
ALTER TABLE login_attempts ADD COLUMN started_at BIGINT NOT NULL DEFAULT 0;
