"""Exceptions of the journal. Each message says what is wrong and what the operator can do."""

from __future__ import annotations


class JournalError(Exception):
    """Base class: the journal cannot do what was asked."""


class JournalLockedError(JournalError):
    """Another process has the journal open for writing."""


class JournalIntegrityError(JournalError):
    """The ledger on disk contradicts itself or its anchor; the journal refuses to append to it."""


class JournalWriteError(JournalError):
    """A write or fsync failed. The record was not acknowledged and the journal accepts no more
    appends: the bot must stop trading. Reopening quarantines any partial line left behind."""


class JournalClosedError(JournalError):
    """The journal was closed."""
