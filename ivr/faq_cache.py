"""The FAQ as the phone line reads it, kept per process until an operator changes it.

Every FAQ menu and answer used to load the entries and their texts (two queries and the ORM's
objects). Now each process keeps one copy, stamped with the table's version: the number of
entries and texts, the highest ids and the latest `updated_at` (which every console edit sets).
Before use, one light query reads the version; any edit, addition or removal changes it, and the
copy is loaded again, so a caller hears an operator's edit on the very next menu.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from madoguchi.models import FaqEntry, FaqText


@dataclass(frozen=True)
class FaqItem:
    """An active entry: its id and its (title, answer) per language."""

    id: int
    texts: dict[str, tuple[str, str]]


# One round trip: any addition, removal or console edit of an entry or a text changes it.
_VERSION = select(
    select(func.count()).select_from(FaqEntry).scalar_subquery(),
    select(func.max(FaqEntry.id)).scalar_subquery(),
    select(func.max(FaqEntry.updated_at)).scalar_subquery(),
    select(func.count()).select_from(FaqText).scalar_subquery(),
    select(func.max(FaqText.id)).scalar_subquery(),
)

_lock = threading.Lock()
_copy: tuple[tuple, list[FaqItem]] | None = None


def _version(session: Session) -> tuple:
    return tuple(session.execute(_VERSION).one())


def _load(session: Session) -> list[FaqItem]:
    rows = session.scalars(
        select(FaqEntry).where(FaqEntry.active.is_(True))
        .options(selectinload(FaqEntry.texts))
        .order_by(FaqEntry.position, FaqEntry.id))
    return [FaqItem(entry.id, {text.language: (text.title, text.answer) for text in entry.texts})
            for entry in rows]


def active_items(session: Session) -> list[FaqItem]:
    """The active entries in the line's order, from this process's copy when it is current."""
    global _copy
    version = _version(session)
    with _lock:
        if _copy is not None and _copy[0] == version:
            return _copy[1]
    items = _load(session)
    with _lock:
        _copy = (version, items)
    return items
