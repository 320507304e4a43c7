"""The case file: SQLite via SQLAlchemy 2, Alembic migrations, the hash-chained audit log."""
