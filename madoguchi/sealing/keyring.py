"""The keys of this process: sealing and opening values (AES-256-GCM), and keyed digests (HMAC).

A sealed value is text: `s1:<key id>:<base64url of nonce and ciphertext>`. The cipher is the
`cryptography` package's AES-GCM with a fresh random 96-bit nonce per value; the column's name
is bound in as associated data, so a value moved to another column does not open. A digest is
`<index key id>:<base64url of HMAC-SHA256, first 16 bytes>` of a kind and a normalised value.

Cipher and HMAC objects are built once per key and reused. Keys kept in files (the embedded
default) are re-read when the files change, so a rotation started by `madoguchi keys rotate`
reaches a running server within seconds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from madoguchi.sealing.keys import (
    DATA_KEYS_VARIABLE,
    INDEX_KEY_VARIABLE,
    KeyFiles,
    NamedKey,
    parse_keys,
)

TOKEN_PREFIX = "s1:"  # noqa: S105 (the mark of a sealed value, not a secret)
NONCE_BYTES = 12
DIGEST_BYTES = 16
# How often a process looks at the key files for a rotation made elsewhere.
REFRESH_SECONDS = 2.0
_AAD_PREFIX = b"madoguchi:"


class SealError(Exception):
    """A sealed value cannot be opened; the message says why, never showing the value."""


class UnknownKey(SealError):
    """The value was sealed with a key this process does not have."""


class BrokenSeal(SealError):
    """The value does not open with its key: a wrong key under that id, or altered data."""


class NotSealed(SealError):
    """The value is not a sealed value at all (plain text left by an earlier version)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id_of(token: str) -> str | None:
    """The id of the key a sealed value names, or None when it is not a sealed value."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    key_id, colon, _ = token[len(TOKEN_PREFIX):].partition(":")
    return key_id if colon else None


@dataclass(frozen=True)
class _Keys:
    data: tuple[NamedKey, ...]
    index: tuple[NamedKey, ...]
    ciphers: dict[str, AESGCM]
    macs: dict[str, hmac.HMAC]

    @classmethod
    def build(cls, data: tuple[NamedKey, ...], index: tuple[NamedKey, ...]) -> _Keys:
        return cls(data, index, {key.id: AESGCM(key.secret) for key in data},
                   {key.id: hmac.new(key.secret, digestmod=hashlib.sha256) for key in index})


class Keyring:
    """Data keys (newest first) to seal and open, and index keys (newest first) to digest."""

    def __init__(self, data: tuple[NamedKey, ...], index: tuple[NamedKey, ...], *,
                 files: KeyFiles | None = None) -> None:
        if not data or not index:
            raise ValueError("a keyring needs at least one data key and one index key")
        self.files = files
        self._keys = _Keys.build(data, index)
        self._lock = threading.Lock()
        self._stamp = files.stamp() if files else None
        self._checked = time.monotonic()

    @classmethod
    def from_specs(cls, data_spec: str, index_spec: str) -> Keyring:
        """Keys as written in MADOGUCHI_DATA_KEYS and MADOGUCHI_INDEX_KEY."""
        return cls(parse_keys(data_spec), parse_keys(index_spec))

    @classmethod
    def from_files(cls, files: KeyFiles) -> Keyring:
        """Keys kept in var/, re-read when they change."""
        data_spec, index_spec = files.read()
        return cls(parse_keys(data_spec), parse_keys(index_spec), files=files)

    @classmethod
    def fresh(cls) -> Keyring:
        """A keyring with one new random key of each kind (tests, benchmarks, scratch data)."""
        return cls((NamedKey("k1", secrets.token_bytes(32)),),
                   (NamedKey("i1", secrets.token_bytes(32)),))

    # --- where the keys come from ---------------------------------------------------------
    @property
    def data_source(self) -> str:
        """Where the data keys are set, for messages."""
        return str(self.files.data_path) if self.files else DATA_KEYS_VARIABLE

    @property
    def index_source(self) -> str:
        """Where the index keys are set, for messages."""
        return str(self.files.index_path) if self.files else INDEX_KEY_VARIABLE

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the key files if they changed (at most every few seconds unless forced)."""
        if self.files is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < REFRESH_SECONDS:
            return
        with self._lock:
            self._checked = now
            stamp = self.files.stamp()
            if stamp == self._stamp:
                return
            data_spec, index_spec = self.files.read()
            self._keys = _Keys.build(parse_keys(data_spec), parse_keys(index_spec))
            self._stamp = stamp

    @property
    def data_ids(self) -> tuple[str, ...]:
        """The data key ids, newest first."""
        return tuple(key.id for key in self._keys.data)

    @property
    def index_ids(self) -> tuple[str, ...]:
        """The index key ids, newest first."""
        return tuple(key.id for key in self._keys.index)

    @property
    def newest_data_id(self) -> str:
        """The id of the key new values are sealed with."""
        self.refresh()
        return self._keys.data[0].id

    @property
    def newest_index_id(self) -> str:
        """The id of the key new digests are made with."""
        self.refresh()
        return self._keys.index[0].id

    # --- sealing ---------------------------------------------------------------------------
    def seal(self, plaintext: bytes, context: str) -> str:
        """The value sealed under the newest data key, bound to its column (context)."""
        self.refresh()
        keys = self._keys
        key_id = keys.data[0].id
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = keys.ciphers[key_id].encrypt(nonce, plaintext, _AAD_PREFIX + context.encode())
        return f"{TOKEN_PREFIX}{key_id}:{_b64(nonce + sealed)}"

    def open(self, token: str, context: str) -> bytes:
        """The plaintext of a sealed value; raises SealError when it cannot be opened."""
        key_id = key_id_of(token)
        if key_id is None:
            raise NotSealed(f"{context}: a value is not sealed (plain text from an earlier "
                            "version; run: madoguchi db upgrade)")
        cipher = self._keys.ciphers.get(key_id)
        if cipher is None:
            self.refresh(force=True)
            cipher = self._keys.ciphers.get(key_id)
        if cipher is None:
            raise UnknownKey(f"{context}: a value is sealed with key {key_id!r}, which is not in "
                             f"{self.data_source}; add that key (older keys stay until a "
                             "rotation has finished)")
        try:
            raw = _unb64(token[len(TOKEN_PREFIX) + len(key_id) + 1:])
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                  _AAD_PREFIX + context.encode())
        except (InvalidTag, ValueError, binascii.Error):
            raise BrokenSeal(f"{context}: a value sealed with key {key_id!r} does not open: the "
                             f"key with that id in {self.data_source} is not the one that sealed "
                             "it, or the value was altered") from None

    # --- digests ---------------------------------------------------------------------------
    def _mac(self, mac: hmac.HMAC, kind: str, value: str) -> str:
        copy = mac.copy()
        copy.update(f"{kind}\x1f{value}".encode())
        return _b64(copy.digest()[:DIGEST_BYTES])

    def digest(self, kind: str, value: str) -> str:
        """The keyed digest of a normalised value under the newest index key (to store)."""
        self.refresh()
        keys = self._keys
        key_id = keys.index[0].id
        return f"{key_id}:{self._mac(keys.macs[key_id], kind, value)}"

    def lookup_digests(self, kind: str, value: str) -> list[str]:
        """The value's digest under every index key (to find rows while an index is rebuilt)."""
        self.refresh()
        keys = self._keys
        return [f"{key.id}:{self._mac(keys.macs[key.id], kind, value)}" for key in keys.index]
