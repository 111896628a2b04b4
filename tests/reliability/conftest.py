"""Reliability suites run on both engines: the storage suite's fixtures (a migrated SQLite file and PostgreSQL)."""

from __future__ import annotations

from tests.storage.conftest import db_url, engine, postgres_template, sqlite_template

__all__ = ["db_url", "engine", "postgres_template", "sqlite_template"]
