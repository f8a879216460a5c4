"""Residents' data sealed at rest: keys, sealed column types, blind indexes, rotation.

Every value that names or reaches a person is sealed in the application (AES-256-GCM from the
`cryptography` package) before it reaches the database, the same on SQLite and PostgreSQL; exact
lookups go through keyed digests (HMAC-SHA256 with a key of its own). See the README's
"Personal data" section for what is sealed, against what, and how keys are kept and rotated.
"""

from __future__ import annotations

from madoguchi.sealing.keyring import Keyring, SealError
from madoguchi.sealing.state import current, install, installed

__all__ = ["Keyring", "SealError", "current", "install", "installed"]
