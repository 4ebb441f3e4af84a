"""Profiles: traits from identify calls and imports, and computed traits kept current on ingest."""
