"""Alembic migrations of the study store (run at start-up by `storage.database.migrate`)."""
