"""The FAQ the line reads is kept per process and follows every operator's change at once."""

from __future__ import annotations

from ivr import faq_cache
from madoguchi.models import FaqEntry, FaqText, utcnow


def _entry(session, title: str, position: int = 1) -> FaqEntry:
    entry = FaqEntry(position=position, active=True)
    entry.texts.append(FaqText(language="ja", title=title, answer=f"{title}の答え"))
    session.add(entry)
    session.commit()
    return entry


def _titles(session) -> list[str]:
    return [item.texts["ja"][0] for item in faq_cache.active_items(session)]


def test_a_second_read_of_an_unchanged_faq_is_the_same_copy(db_session):
    _entry(db_session, "駐車場")
    assert faq_cache.active_items(db_session) is faq_cache.active_items(db_session)


def test_an_edited_title_an_added_entry_and_a_withdrawn_one_are_read_at_once(db_session):
    parking = _entry(db_session, "駐車場")
    assert _titles(db_session) == ["駐車場"]
    parking.texts[0].title = "駐車場のご案内"
    parking.updated_at = utcnow()  # as the console's save does
    db_session.commit()
    assert _titles(db_session) == ["駐車場のご案内"]
    _entry(db_session, "持ち物", position=2)
    assert _titles(db_session) == ["駐車場のご案内", "持ち物"]
    parking.active = False
    db_session.commit()
    assert _titles(db_session) == ["持ち物"]
    db_session.delete(parking)
    db_session.commit()
    assert _titles(db_session) == ["持ち物"]
