"""Study-server fixtures: the storage tests' two-engine databases, and the Discord harness with per-member
permissions and attachment uploads (a subclass of the loopback Discord; the harness itself is reused as is)."""

from __future__ import annotations

from tests.storage.conftest import (  # noqa: F401 - re-exported fixtures
    db_url,
    empty_db_url,
    engine,
    postgres_template,
    sqlite_template,
)
