-- Attempts and finished deliveries are pruned by delivery id range (Prune):
-- two indexes less to update for every delivery.
DROP INDEX attempts_started;
DROP INDEX deliveries_completed;
