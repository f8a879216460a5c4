"""FAQ entries the phone line reads out: editing per language and a preview of the spoken text."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

import prompts
from agent_console.services.actor import Actor
from madoguchi.models import FaqEntry, FaqText, utcnow

TITLE_MAX = 200
ANSWER_MAX = 4000


class FaqError(ValueError):
    """A FAQ entry could not be saved; the message says what to fix."""


@dataclass(frozen=True)
class FaqInput:
    """The title and answer typed for one language (both empty: no text in that language)."""

    language: str
    title: str
    answer: str


def entries(session: Session) -> list[FaqEntry]:
    """Every FAQ entry with its texts, in the order the line reads them."""
    query = select(FaqEntry).options(selectinload(FaqEntry.texts)).order_by(
        FaqEntry.position, FaqEntry.id
    )
    return list(session.scalars(query))


def texts_by_language(entry: FaqEntry | None) -> dict[str, FaqText]:
    """An entry's texts keyed by language."""
    return {text.language: text for text in entry.texts} if entry is not None else {}


def save(
    session: Session,
    actor: Actor,
    entry: FaqEntry | None,
    *,
    position: int,
    active: bool,
    texts: list[FaqInput],
) -> FaqEntry:
    """Create or update an entry and its per-language texts; raises FaqError saying what to fix."""
    filled = [item for item in texts if item.title.strip() or item.answer.strip()]
    if not filled:
        raise FaqError("fill in the title and answer in at least one language")
    for item in filled:
        if not item.title.strip() or not item.answer.strip():
            raise FaqError(f"{item.language}: both the title and the answer are needed")
        if len(item.title) > TITLE_MAX or len(item.answer) > ANSWER_MAX:
            raise FaqError(f"{item.language}: the text is too long")
    if entry is None:
        entry = FaqEntry()
        session.add(entry)
    entry.position = position
    entry.active = active
    entry.updated_at = utcnow()
    existing = texts_by_language(entry)
    for item in texts:
        current = existing.get(item.language)
        if item.title.strip():
            if current is None:
                entry.texts.append(FaqText(language=item.language, title=item.title.strip(),
                                           answer=item.answer.strip()))
            else:
                current.title, current.answer = item.title.strip(), item.answer.strip()
        elif current is not None:
            entry.texts.remove(current)
    session.commit()
    actor.audit(session, "update", "faq", entry.id,
                detail={"languages": [item.language for item in filled]})
    return entry


def speech_language(language: str) -> str:
    """The language code the phone line speaks a language in (ja-JP), for the browser's voice."""
    try:
        return prompts.catalog(language).voice.language
    except prompts.PromptError:
        return language


def spoken_preview(language: str, title: str, answer: str, key: str = "1") -> list[str]:
    """What a caller hears: the menu sentence offering this question, then the answer."""
    if not title.strip():
        return []
    try:
        option = prompts.catalog(language).text("faq_option", title=title.strip(), key=key)
    except (prompts.PromptError, KeyError):
        option = title.strip()
    # "|" marks a pause in the prompts files; the preview shows each part on its own line.
    return [part for part in (option, *answer.split("|")) if part.strip()]
