-- Nothing on SQLite: the foreign key from attempts to deliveries that
-- PostgreSQL's 0017 replaces by a trigger costs SQLite no round trip.
SELECT 1;
