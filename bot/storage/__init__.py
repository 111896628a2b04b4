"""Storage: SQLAlchemy Core tables, the async engine, Alembic migrations and repositories. All SQL lives here."""
