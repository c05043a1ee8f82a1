"""Database plumbing shared by services.

Engines, naming, the outbox and inbox tables, migrations.
"""

from kit.db.engine import create_engine, ensure_database, is_postgres
from kit.db.tables import INBOX, KIT_METADATA, OUTBOX, new_metadata

__all__ = [
    "INBOX",
    "KIT_METADATA",
    "OUTBOX",
    "create_engine",
    "ensure_database",
    "is_postgres",
    "new_metadata",
]
