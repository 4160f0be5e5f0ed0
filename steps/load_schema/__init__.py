"""load_schema: apply the validated schema to AlloyDB (pre-data before the transfers, post-data after them)."""
