-- No query filters, joins or sorts on the payload columns: they are only read back whole. Their
-- statistics (the most common values and histograms of JSON documents and response bodies) are the
-- costly part of every ANALYZE, which sorts a sample of them, and no plan uses them. Keep none.
ALTER TABLE absences ALTER COLUMN body SET STATISTICS 0;
ALTER TABLE leaves ALTER COLUMN leave SET STATISTICS 0;
ALTER TABLE leave_events ALTER COLUMN record SET STATISTICS 0;
ALTER TABLE delivery_attempts ALTER COLUMN response_excerpt SET STATISTICS 0;
ALTER TABLE delivery_attempts ALTER COLUMN error_detail SET STATISTICS 0;
