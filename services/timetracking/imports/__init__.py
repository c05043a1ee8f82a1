"""CSV import of timesheets: a per-row report before anything is written, idempotent writes."""
