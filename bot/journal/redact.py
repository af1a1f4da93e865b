"""Account redaction: the same account always gives the same token, and the token does not reveal it.

Token: ``DU****567#1a2b3c4d`` — the account's letter prefix and last three characters (so that an
operator recognises their own account) and 8 hex digits of an HMAC-SHA256 of the full id under a
random per-journal key, ``<journal>/account.key`` (created on first use, mode 0600). The HMAC keeps
two accounts with the same visible parts apart and, unlike a plain hash, cannot be reversed by
trying every ``DUnnnnnnn``. Keep the key with the journal; without it nobody can tell which account
a token stands for, beyond the visible characters.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from bot.journal.files import fsync_dir, fsync_fd, write_all

KEY_FILE = "account.key"
KEY_BYTES = 32


class RedactionKeyError(ValueError):
    """The journal's redaction key is unreadable or malformed."""


def load_or_create_key(journal_directory: Path) -> bytes:
    path = journal_directory / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise RedactionKeyError(
                f"{path} holds {len(key)} bytes, expected {KEY_BYTES}; restore it from a backup "
                "(account tokens in the journal depend on it)"
            ) from None
        return key
    key = secrets.token_bytes(KEY_BYTES)
    try:
        write_all(fd, key)
        fsync_fd(fd)
    finally:
        os.close(fd)
    fsync_dir(journal_directory)
    return key


def redact_account(account: str, key: bytes) -> str:
    account = account.strip()
    tag = hmac.new(key, account.encode("utf-8"), hashlib.sha256).hexdigest()[:8]
    prefix = ""
    for character in account[:2]:
        if not character.isalpha():
            break
        prefix += character
    suffix = account[-3:] if len(account) - len(prefix) > 5 else ""
    return f"{prefix}****{suffix}#{tag}"
