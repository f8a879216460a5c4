"""How the line reads the FAQ titles a page at a time; the printed menu sheet pages them alike.

Three titles to a page and a key for more; a last page of four is read whole rather than
leaving one title alone behind the "more" key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

FAQ_PAGE = 3

Item = TypeVar("Item")


def page_at(items: Sequence[Item], start: int) -> tuple[list[Item], bool]:
    """The page read from `start` (from the top once past the end), and whether more follow."""
    if start >= len(items):
        start = 0
    rest = list(items[start:])
    page = rest if len(rest) <= FAQ_PAGE + 1 else rest[:FAQ_PAGE]
    return page, len(rest) > len(page)


def pages(items: Sequence[Item]) -> list[list[Item]]:
    """Every page in the order a caller pressing "more" hears them."""
    found: list[list[Item]] = []
    start = 0
    while start < len(items):
        page, more = page_at(items, start)
        found.append(page)
        if not more:
            break
        start += len(page)
    return found
