-- Only an audit entry's deliveries are looked up by their event (PruneAudit
-- deletes them, then the events they no longer refer to), and every one
-- of them has the subject 'audit' (store.auditSubject). The index of all
-- deliveries by event cost every other delivery an entry when it was
-- queued and another at its outcome, whose new row version every index
-- gets: a tenth of the row and index work of a delivery, measured on
-- PostgreSQL. Now only the audit log's deliveries have one.
DROP INDEX deliveries_event;
CREATE INDEX deliveries_audit_event ON deliveries (event_seq) WHERE subject = 'audit';
