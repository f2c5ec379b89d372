-- Nothing on SQLite: the foreign keys of deliveries and attempts that
-- PostgreSQL's 0017 replaces by triggers cost SQLite no round trip.
SELECT 1;
