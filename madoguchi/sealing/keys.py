"""Key material: the written form of keys, where they come from, and making new ones.

Keys are written `id:base64`, several separated by commas (or new lines in a key file), the
newest first. Data keys are 32-byte AES-256-GCM keys; the index key is a 32-byte HMAC-SHA256 key
of its own. The id travels with every sealed value and every digest, so old keys keep opening
what they sealed until a rotation has moved everything to the newest.

Production passes keys in MADOGUCHI_DATA_KEYS and MADOGUCHI_INDEX_KEY. The embedded default
keeps them in var/data_keys and var/index_key, created owner-only on first start.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from madoguchi.private_files import create_private_file_once, write_private_file

KEY_BYTES = 32
KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
DATA_KEYS_VARIABLE = "MADOGUCHI_DATA_KEYS"
INDEX_KEY_VARIABLE = "MADOGUCHI_INDEX_KEY"
DATA_KEYS_FILE = "data_keys"
INDEX_KEY_FILE = "index_key"
KEY_FORM = ("comma-separated id:base64key entries, newest first, each key 32 random bytes in "
            "base64 (make one with: madoguchi keys generate)")


class KeyFormatError(ValueError):
    """A key list is malformed; the message says how, never showing key material."""


@dataclass(frozen=True)
class NamedKey:
    """One key and the id that marks what it sealed or indexed."""

    id: str
    secret: bytes = field(repr=False)

    def written(self) -> str:
        """The key as `id:base64`."""
        return f"{self.id}:{base64.b64encode(self.secret).decode('ascii')}"


def _decode(text: str) -> bytes:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    alphabet_is_urlsafe = "-" in text or "_" in text
    try:
        if alphabet_is_urlsafe:
            return base64.urlsafe_b64decode(padded.encode("ascii"))
        return base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise KeyFormatError("not base64") from None


def parse_keys(spec: str) -> tuple[NamedKey, ...]:
    """The keys written in spec, newest first; raises KeyFormatError naming the bad entry."""
    entries = [entry.strip() for entry in re.split(r"[,\n]", spec or "") if entry.strip()]
    if not entries:
        raise KeyFormatError(f"no key given; expected {KEY_FORM}")
    keys: list[NamedKey] = []
    for position, entry in enumerate(entries, start=1):
        key_id, colon, material = entry.partition(":")
        key_id = key_id.strip()
        if not colon or not KEY_ID_RE.match(key_id):
            raise KeyFormatError(
                f"entry {position} is not id:base64key (the id: 1 to 16 letters, digits, - or _); "
                f"expected {KEY_FORM}")
        try:
            secret = _decode(material)
        except KeyFormatError:
            raise KeyFormatError(
                f"key {key_id!r} is not valid base64; expected {KEY_FORM}") from None
        if len(secret) != KEY_BYTES:
            raise KeyFormatError(
                f"key {key_id!r} is {len(secret)} bytes; "
                f"expected {KEY_BYTES} random bytes in base64")
        if any(key.id == key_id for key in keys):
            raise KeyFormatError(f"key id {key_id!r} appears twice; each key needs its own id")
        keys.append(NamedKey(key_id, secret))
    return tuple(keys)


def written(keys: tuple[NamedKey, ...] | list[NamedKey]) -> str:
    """Keys as a file holds them: one `id:base64` a line, newest first."""
    return "".join(f"{key.written()}\n" for key in keys)


def new_key(key_id: str) -> NamedKey:
    """A fresh random key with this id."""
    if not KEY_ID_RE.match(key_id):
        raise KeyFormatError("a key id is 1 to 16 letters, digits, - or _")
    return NamedKey(key_id, secrets.token_bytes(KEY_BYTES))


def dated_key_id(prefix: str = "") -> str:
    """An id that says when the key was made and cannot collide: e.g. 20250114-3fa9."""
    return f"{prefix}{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(2)}"


def next_key_id(existing: tuple[NamedKey, ...], letter: str) -> str:
    """The next id of the embedded default's numbered keys: k1, k2, … (or i1, i2, …)."""
    numbers = [int(key.id[1:]) for key in existing
               if key.id.startswith(letter) and key.id[1:].isdigit()]
    return f"{letter}{max(numbers, default=0) + 1}"


@dataclass(frozen=True)
class KeyFiles:
    """The embedded default's key files in var/ (owner-only)."""

    data_path: Path
    index_path: Path

    @classmethod
    def in_folder(cls, var_dir: Path) -> KeyFiles:
        """The key files of a var/ folder."""
        return cls(var_dir / DATA_KEYS_FILE, var_dir / INDEX_KEY_FILE)

    def ensure(self) -> None:
        """Create both files with a first key each, unless they exist."""
        create_private_file_once(self.data_path, written([new_key("k1")]))
        create_private_file_once(self.index_path, written([new_key("i1")]))

    def read(self) -> tuple[str, str]:
        """The data keys and index keys as written in the files."""
        return (self.data_path.read_text(encoding="utf-8"),
                self.index_path.read_text(encoding="utf-8"))

    def stamp(self) -> tuple[float, float]:
        """When the files last changed (to notice a rotation made by another process)."""
        return (self.data_path.stat().st_mtime_ns, self.index_path.stat().st_mtime_ns)

    def add_newest(self, *, index: bool) -> NamedKey:
        """Put a fresh key first in the data (or index) key file; the older ones stay."""
        path = self.index_path if index else self.data_path
        existing = parse_keys(path.read_text(encoding="utf-8"))
        key = new_key(next_key_id(existing, "i" if index else "k"))
        write_private_file(path, written([key, *existing]))
        return key
