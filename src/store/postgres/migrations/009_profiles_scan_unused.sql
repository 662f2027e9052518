-- custom_request scans walk the table's blocks now (src/store/queries/pg-scan.ts), not the id index of
-- a database's profiles: that index only cost every profile insert another index entry.
DROP INDEX IF EXISTS profiles_scan;
