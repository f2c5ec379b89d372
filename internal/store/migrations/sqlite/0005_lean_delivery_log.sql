-- Every delivery writes an attempt, so the attempts table is on the hot
-- path: keyed by (delivery_id, n) it is one B-tree, where a rowid table
-- with its two indexes was three (and a sequence update). It is read and
-- pruned by delivery. Finished deliveries are pruned by id range (Prune),
-- so their completion time needs no index.
CREATE TABLE attempts_by_delivery (
    delivery_id   INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    n             INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    status_code   INTEGER NOT NULL,
    response_body TEXT    NOT NULL,
    error         TEXT    NOT NULL,
    PRIMARY KEY (delivery_id, n)
) WITHOUT ROWID;
INSERT OR IGNORE INTO attempts_by_delivery (delivery_id, n, started_at, duration_ms, status_code, response_body, error)
    SELECT delivery_id, n, started_at, duration_ms, status_code, response_body, error FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_by_delivery RENAME TO attempts;
DROP INDEX deliveries_completed;
