-- Nothing on SQLite: deliveries.event_seq keeps its foreign key here
-- (PostgreSQL's 0017 dropped it), and deleting an event checks the key
-- with deliveries_event, which an index of the audit log's deliveries
-- alone could not serve: pruning the audit log would read every delivery
-- for each event it deletes.
SELECT 1;
