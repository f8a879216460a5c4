"""The keyring this process seals, opens and digests with (one per process, set at start-up)."""

from __future__ import annotations

from madoguchi.sealing.keyring import Keyring

_current: Keyring | None = None


class NoKeys(RuntimeError):
    """Sealed data was touched before the keys were loaded."""


def install(keyring: Keyring) -> None:
    """Make this keyring the process's keyring (create_app and the CLI do it at start)."""
    global _current
    _current = keyring


def current() -> Keyring:
    """The process's keyring; raises NoKeys before one was installed."""
    if _current is None:
        raise NoKeys("no data keys loaded: create the app (create_app) or install a keyring "
                     "(madoguchi.sealing.install) before reading or writing residents' data")
    return _current


def installed() -> Keyring | None:
    """The process's keyring, or None."""
    return _current
