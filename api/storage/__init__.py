"""The service's storage: the database (SQLAlchemy; SQLite by default, PostgreSQL by URL),
its Alembic migrations, and the content-addressed file store."""
