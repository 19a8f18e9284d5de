"""Storage: peewee models, versioned migrations and the connection (SQLite WAL or PostgreSQL)."""

from serbero.db.connection import database, open_database
from serbero.db.migrations import migrate

__all__ = ["database", "migrate", "open_database"]
