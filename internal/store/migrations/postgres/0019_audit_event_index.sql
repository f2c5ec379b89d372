-- Only an audit entry's deliveries are looked up by their event (PruneAudit
-- deletes them, then the events they no longer refer to; no foreign key
-- checks deliveries since 0017), and every one of them has the subject
-- 'audit' (store.auditSubject). The index of every delivery by its event
-- cost each delivery an entry when it was queued and another at its
-- outcome (whose new row version every index gets): an eighth of the time
-- of writing a delivery's rows and index entries (docs/benchmarks.md).
-- Now only the audit log's deliveries have one.
DROP INDEX deliveries_event;
CREATE INDEX deliveries_audit_event ON deliveries (event_seq) WHERE subject = 'audit';
