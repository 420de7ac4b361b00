"""Where studies live: SQLAlchemy tables, Alembic migrations, the store and its group-committing writer."""
