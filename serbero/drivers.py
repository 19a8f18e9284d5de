"""Keeping the PostgreSQL driver out of processes whose database is SQLite.

peewee imports psycopg at its own import whenever psycopg is installed, and psycopg with its
libpq costs each process about 10 MB of memory: a fifth of an idle listener. The composition
roots call `load_only_needed` with the deployment's URL before anything imports peewee.
"""

from __future__ import annotations

import sys

#: The PostgreSQL drivers peewee looks for.
POSTGRES_DRIVERS = ("psycopg", "psycopg2", "psycopg2cffi")


def load_only_needed(db_url: str) -> None:
    """On SQLite, make peewee's imports of the PostgreSQL drivers fail as if none were
    installed (a None in `sys.modules` is how Python spells that). Too late once peewee is
    imported, and then harmless: nothing is changed."""
    if db_url.startswith("sqlite:") and "peewee" not in sys.modules:
        for name in POSTGRES_DRIVERS:
            sys.modules.setdefault(name, None)
