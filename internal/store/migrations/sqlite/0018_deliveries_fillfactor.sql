-- Nothing on SQLite, which updates a row in place: PostgreSQL's 0018
-- leaves room in the deliveries table's pages for their leases.
SELECT 1;
