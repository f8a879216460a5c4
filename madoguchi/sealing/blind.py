"""Blind indexes: keyed digests stored beside sealed values so exact lookups stay possible.

A digest column declares what it is the digest of (`blind_index("phone", "from_e164")`); the
ORM fills it whenever the source changes (madoguchi.sealing.orm), and `madoguchi keys rotate
--index` rebuilds every such column from the opened sources. A lookup computes the digest of
what was typed, normalised the same way, under every index key (so rows still indexed under the
previous key are found while a rebuild runs), and compares digests: equal values, equal digests;
nothing about the value can be read from a digest without the index key.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, false
from sqlalchemy.orm import MappedColumn, mapped_column

from madoguchi.sealing import state

# Key id (up to 16), a colon and 16 bytes of HMAC in base64url (22).
DIGEST_LENGTH = 40


def _same(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


@dataclass(frozen=True)
class BlindIndex:
    """What a digest column holds: the digest of `derive(*sources)` under `kind`."""

    kind: str
    sources: tuple[str, ...]
    derive: Callable[..., str | None] = _same

    def value_of(self, *source_values: Any) -> str | None:
        """The normalised text that is digested, or None for no digest."""
        return self.derive(*source_values)

    def digest_of(self, *source_values: Any) -> str | None:
        """The digest to store for these source values (newest index key)."""
        value = self.value_of(*source_values)
        return None if value is None else state.current().digest(self.kind, value)


def blind_index(kind: str, *sources: str, derive: Callable[..., str | None] = _same,
                unique: bool = False, index: bool = False) -> MappedColumn[Any]:
    """A digest column of the given sources, filled by the ORM and rebuilt by rotation."""
    return mapped_column(String(DIGEST_LENGTH), nullable=True, unique=unique, index=index,
                         info={"blind_index": BlindIndex(kind, tuple(sources), derive)})


def matches(column: ColumnElement[Any], kind: str, value: str | None) -> ColumnElement[bool]:
    """A condition: the digest column equals the digest of value under any index key."""
    if value is None:
        return false()
    return column.in_(state.current().lookup_digests(kind, value))


def lookup_digests(kind: str, value: str) -> list[str]:
    """The digests of a value under every index key."""
    return state.current().lookup_digests(kind, value)


# --- normalising what is indexed --------------------------------------------------------------

def resident_number(value: Any) -> str | None:
    """A register number as typed or imported: full-width to ASCII, no spaces, upper case."""
    if value is None:
        return None
    text = "".join(unicodedata.normalize("NFKC", str(value)).split()).upper()
    return text or None


def last_four(e164: Any) -> str | None:
    """The last four digits of a number."""
    if not e164:
        return None
    digits = "".join(ch for ch in str(e164) if ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else None


def iso_date(value: Any) -> str | None:
    """A date as YYYY-MM-DD."""
    return None if value is None else value.isoformat()
