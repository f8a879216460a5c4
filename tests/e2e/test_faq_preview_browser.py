"""The FAQ editor's preview in a real browser: "listen" hands the preview's sentences to the
browser's speech synthesis, in the entry's language."""

from __future__ import annotations

from madoguchi.models import FaqEntry, FaqText
from tests.e2e.conftest import log_in
from tests.e2e.test_console_browser import city  # noqa: F401 (city is a fixture)

# Listens to what the page asks the browser to say (and lets it say it).
OVERHEAR = """
window.heard = [];
const speak = window.speechSynthesis.speak.bind(window.speechSynthesis);
window.speechSynthesis.speak = (utterance) => {
  window.heard.push([utterance.lang, utterance.text]);
  speak(utterance);
};
"""


def test_listening_to_the_preview_speaks_it_in_the_entrys_language(page, city,  # noqa: F811
                                                                  committed_db):
    with committed_db() as session:
        entry = FaqEntry(position=1, active=True)
        entry.texts = [
            FaqText(language="ja", title="駐車場",
                    answer="駐車場は無料です。|台数に限りがあります。"),
            FaqText(language="en", title="Parking", answer="Parking is free.")]
        session.add(entry)
        session.commit()
        entry_id = entry.id
    page.add_init_script(OVERHEAR)
    log_in(page, "admin")
    page.goto(f"/console/faq/{entry_id}")
    page.locator(".preview[data-speech-lang='ja-JP'] [data-listen]").click()
    heard = page.evaluate("window.heard")
    assert heard == [["ja-JP", "駐車場については、1を押してください。"],
                     ["ja-JP", "駐車場は無料です。"], ["ja-JP", "台数に限りがあります。"]]
    page.locator(".preview[data-speech-lang='en-US'] [data-listen]").click()
    assert page.evaluate("window.heard")[-1] == ["en-US", "Parking is free."]
