-- Claims and NextDue go webhook by webhook on deliveries_webhook_due, so
-- the global due index only cost an insert and a delete per delivery.
DROP INDEX deliveries_due;
