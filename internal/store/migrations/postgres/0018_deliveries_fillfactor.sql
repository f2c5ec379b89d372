-- Half of each page of deliveries is left free for the row versions that
-- claims write. A lease (lease_until) changes no indexed column, so
-- PostgreSQL can write it as a heap-only tuple, without a new entry in
-- each of the table's five indexes, but only when the new version fits in
-- the row's page; inserts filled pages to the brim, so every lease
-- rewrote every index (about 13 pages touched per delivery claimed, and
-- index entries that claims then step over until the next vacuum).
-- Applies to pages written from now on.
ALTER TABLE deliveries SET (fillfactor = 50);
