"""table_transfer: one table (or one batch of small tables) UNLOAD → S3 → GCS → COPY → verify → result JSON."""
