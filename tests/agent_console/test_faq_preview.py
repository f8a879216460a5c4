"""The FAQ editor's preview can be heard: the browser's voice in the entry's language, or the
answer the city recorded, which the phone line plays too."""

from __future__ import annotations

from sqlalchemy import select

from madoguchi.models import FaqEntry, FaqText
from tests.ivr.conftest import Caller, configure
from tests.ivr.test_journeys import to_menu


def _entry(db_session) -> FaqEntry:
    entry = FaqEntry(position=1, active=True)
    entry.texts = [FaqText(language="ja", title="駐車場", answer="市役所の駐車場は無料です。"),
                   FaqText(language="en", title="Parking", answer="Parking is free.")]
    db_session.add(entry)
    db_session.commit()
    return entry


def test_each_languages_preview_has_a_listen_button_in_the_line_s_language(as_supervisor,
                                                                           db_session):
    entry = _entry(db_session)
    page = as_supervisor.get(f"/console/faq/{entry.id}").get_data(as_text=True)
    assert '<div class="preview" data-speech-lang="ja-JP">' in page
    assert '<div class="preview" data-speech-lang="en-US">' in page
    assert page.count("data-listen>") == 2 and "読み上げを聞く" in page
    assert "faq_preview.js" in page


def test_a_recorded_answer_is_what_the_preview_and_the_phone_line_play(
        as_supervisor, app, db_session, tmp_path, client):
    entry = _entry(db_session)
    (tmp_path / "ja").mkdir()
    (tmp_path / "ja" / f"faq_{entry.id}.mp3").write_bytes(b"ID3")
    configure(app, prompts={"audio_dir": str(tmp_path)})
    page = as_supervisor.get(f"/console/faq/{entry.id}").get_data(as_text=True)
    assert f'data-recording="/voice/audio/ja/faq_{entry.id}.mp3"' in page
    assert "録音を聞く" in page
    assert page.count("data-recording=") == 1, "English has no recording: the browser reads it"
    caller = Caller(client)
    to_menu(caller)
    caller.press("3")
    doc = caller.press("1")
    assert doc.root.find(".//Play").text.endswith(f"/voice/audio/ja/faq_{entry.id}.mp3")
    assert "市役所の駐車場は無料です" not in doc.text
    assert db_session.scalar(select(FaqEntry)).id == entry.id
