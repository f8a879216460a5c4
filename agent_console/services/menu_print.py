"""The phone menu as a printable tree, from the live settings, prompts and FAQ entries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ivr.menu_tree import MenuLine, menu_tree
from madoguchi.models import FaqEntry
from madoguchi.settings import Settings


def faq_titles(session: Session, language: str, default_language: str) -> list[str]:
    """Titles of the active FAQ entries in the order the line reads them (as the line picks)."""
    entries = session.scalars(
        select(FaqEntry).options(selectinload(FaqEntry.texts))
        .where(FaqEntry.active.is_(True)).order_by(FaqEntry.position, FaqEntry.id)
    )
    titles = []
    for entry in entries:
        texts = {text.language: text for text in entry.texts}
        text = texts.get(language) or texts.get(default_language)
        if text is not None:
            titles.append(text.title)
    return titles


def printable_menu(session: Session, settings: Settings, language: str) -> list[MenuLine]:
    """The whole menu in one of the offered languages, as the caller hears it today."""
    if language not in settings.languages.offered:
        raise ValueError(f"language {language!r} is not offered on the line")
    titles = faq_titles(session, language, settings.languages.default)
    return menu_tree(settings, language, titles)
