-- Login throttling counts failures in a sliding window: at most the limit
-- in any span of the window's length. That needs each failure's time, one
-- row per failure; login_attempts keeps the attempts being checked.
CREATE TABLE login_failures (
    key       TEXT    NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, failed_at);
CREATE INDEX login_failures_at ON login_failures (failed_at);

-- The failures counted so far, each as of its key's newest attempt (no
-- earlier than it failed, so none is forgotten too soon).
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO login_failures (key, failed_at)
SELECT a.key, a.started_at FROM login_attempts a JOIN n ON n.i <= a.failures;
