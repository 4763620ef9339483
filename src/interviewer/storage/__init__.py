"""Where sessions live: the storage seam, SQLite and PostgreSQL behind it, and per-user downloads.

`open_storage` picks the backend the settings name; `seam` says what every backend provides.
"""

from __future__ import annotations

from interviewer.config import Settings
from interviewer.storage.seam import Storage
from interviewer.storage.sqlite import open_sqlite


def open_storage(settings: Settings) -> Storage:
    """The storage the settings name: the PostgreSQL database of INTERVIEWER_DATABASE_URL, else the embedded
    SQLite file in the data folder. Either is migrated as it opens."""
    if settings.database_url:
        from interviewer.storage.postgres import open_postgres

        storage = open_postgres(settings.database_url)
    else:
        storage = open_sqlite(settings)
    storage.sessions.lease_s = settings.turn_lease_s
    return storage
