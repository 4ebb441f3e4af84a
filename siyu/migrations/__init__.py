"""Alembic migrations of the operational store."""
