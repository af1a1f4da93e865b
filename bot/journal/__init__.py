"""The decision journal: hash-chained JSON-lines ledger, SQLite index, audit (verify, query, replay).

The engine and executor use ``Journal`` (see journal.py) and its typed ``record_*`` helpers
(writers.py); the ``alvh audit`` command uses the read side (reader.py, verify.py, replay.py,
export.py).
"""

from bot.journal.encoding import GENESIS_HASH, KINDS, Record
from bot.journal.errors import (
    JournalClosedError,
    JournalError,
    JournalIntegrityError,
    JournalLockedError,
    JournalWriteError,
)
from bot.journal.journal import Journal, TimeSource, journal_dir
from bot.journal.version import code_version
from bot.journal.writers import RecordedSnapshot

__all__ = [
    "GENESIS_HASH",
    "KINDS",
    "Journal",
    "JournalClosedError",
    "JournalError",
    "JournalIntegrityError",
    "JournalLockedError",
    "JournalWriteError",
    "Record",
    "RecordedSnapshot",
    "TimeSource",
    "code_version",
    "journal_dir",
]
