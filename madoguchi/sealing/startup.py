"""Loading the keys a process starts with, and checking them once against the database."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from madoguchi.sealing import canary, state
from madoguchi.sealing.keyring import Keyring
from madoguchi.sealing.keys import KeyFiles
from madoguchi.settings import Secrets

_lock = threading.Lock()
_keyrings: dict[tuple, Keyring] = {}
_verified: set[tuple[str, int]] = set()


def keyring_for(secrets: Secrets) -> Keyring:
    """The keyring for these settings, built once per process (ciphers and HMACs reused)."""
    if secrets.key_folder is not None:
        cache_key: tuple = ("files", str(secrets.key_folder))
    else:
        cache_key = ("env", secrets.data_keys, secrets.index_keys)
    with _lock:
        keyring = _keyrings.get(cache_key)
        if keyring is None:
            if secrets.key_folder is not None:
                keyring = Keyring.from_files(KeyFiles.in_folder(secrets.key_folder))
            else:
                keyring = Keyring.from_specs(secrets.data_keys, secrets.index_keys)
            _keyrings[cache_key] = keyring
        else:
            keyring.refresh(force=True)  # key files may have changed since (a rotation)
    return keyring


def check_and_install(engine: Engine, keyring: Keyring) -> None:
    """Verify the keys against this database (once per process) and make them the process's.

    Raises canary.WrongKeys or canary.UnsealedData; database errors pass through (the caller
    installs the keys anyway and checks again later).
    """
    marker = (engine.url.render_as_string(hide_password=True), id(keyring))
    if marker not in _verified:
        canary.verify(engine, keyring)
        _verified.add(marker)
    state.install(keyring)


def forget_checks() -> None:
    """Check again on the next start (after a rotation changed the canary, and in tests)."""
    _verified.clear()
