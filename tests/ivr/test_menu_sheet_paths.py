"""Every path printed on the menu sheet, keyed into the phone, reaches what the sheet names.

The sheet is printed from the same structure the phone plays (FAQ titles three to a page with
a key for more), so a resident following the paper never hears "no such number". Each keyed
line is played as a whole call through the simulator against a real server process: after its
keys the caller hears what the sheet prints next (the first choice behind it) or, for an FAQ
title, that entry's answer.
"""

from __future__ import annotations

import pytest

import prompts
from agent_console.services.menu_print import printable_menu
from ivr.menu_tree import MenuLine
from madoguchi.models import FaqEntry, FaqText
from madoguchi.telephony.clock import VirtualClock
from madoguchi.telephony.engine import WITHHELD_CALLER_ID, CallEngine, CallSetup
from madoguchi.telephony.network import SimulatedNetwork
from madoguchi.telephony.script import ScriptCaller, parse_script
from tests.conftest import TEST_AUTH_TOKEN
from tests.madoguchi.telephony.live_server import live_server  # noqa: F401 (the fixture)

# Six entries, as in the demo city: two pages on the phone (three, then three more).
FAQ = [
    (("駐車場", "市役所の駐車場は、無料です。"), ("parking", "Parking at city hall is free.")),
    (("持ち物", "保険証を、お持ちください。"), ("what to bring", "Bring your insurance card.")),
    (("受付時間", "受付は、九時からです。"), ("opening hours", "We open at nine.")),
    (("ごみの日", "燃えるごみは、火曜日です。"), ("rubbish days", "Burnable rubbish is Tuesday.")),
    (("粗大ごみ", "粗大ごみは、予約制です。"), ("large items", "Large items need a booking.")),
    (("証明書", "証明書は、窓口で発行します。"), ("certificates", "Certificates are issued at "
                                                            "the counter.")),
]


@pytest.fixture
def faq(committed_db):
    """The six FAQ entries in both languages, committed for the server process."""
    with committed_db() as session:
        for position, ((ja_title, ja_answer), (en_title, en_answer)) in enumerate(FAQ, start=1):
            entry = FaqEntry(position=position, active=True)
            entry.texts = [FaqText(language="ja", title=ja_title, answer=ja_answer),
                           FaqText(language="en", title=en_title, answer=en_answer)]
            session.add(entry)
        session.commit()


def _answers(lang: str) -> dict[str, str]:
    column = 0 if lang == "ja" else 1
    return {texts[column][0]: texts[column][1] for texts in FAQ}


def _reached(sheet: list[MenuLine], index: int, lang: str) -> str:
    """What a caller keying this line's path hears: the sheet's next choice, or the answer."""
    line = sheet[index]
    following = sheet[index + 1] if index + 1 < len(sheet) else None
    if following is not None and following.depth > line.depth:
        return following.text
    catalog = prompts.catalog(lang)
    named = [title for title in _answers(lang)
             if catalog.text("faq_option", title=title, key=line.keys[-1]) == line.text]
    assert len(named) == 1, f"the sheet line {line.text!r} names no FAQ entry"
    return _answers(lang)[named[0]]


def _paths(settings, committed_db, lang: str) -> list[tuple[tuple[str, ...], str, str]]:
    with committed_db() as session:
        sheet = printable_menu(session, settings, lang)
    return [(line.keys, line.text, _reached(sheet, index, lang))
            for index, line in enumerate(sheet) if line.keys]


def test_the_sheet_prints_every_faq_entry_behind_the_keys_the_phone_uses(
        settings, committed_db, faq):
    paths = _paths(settings, committed_db, "ja")
    faq_key = str(settings.menu.options.index("faq") + 1)
    more = [keys for keys, text, _ in paths if "ほかの質問" in text]
    assert more == [(faq_key, "8")]
    titled = {keys: reached for keys, _, reached in paths if keys[0] == faq_key
              and "ほかの質問" not in text_of(paths, keys)}
    assert titled[(faq_key, "1")] == "市役所の駐車場は、無料です。"
    assert titled[(faq_key, "8", "3")] == "証明書は、窓口で発行します。"
    assert len([keys for keys in titled if len(keys) > 1]) == len(FAQ)


def text_of(paths, keys) -> str:
    """The sheet's text of the line chosen by these keys."""
    return next(text for found, text, _ in paths if found == keys)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_path_on_the_printed_sheet_reaches_what_it_names_on_the_phone(
        live_server, settings, committed_db, redis_client, faq, lang):  # noqa: F811
    engine = CallEngine(TEST_AUTH_TOKEN, clock=VirtualClock(),
                        network=SimulatedNetwork(redis_client))
    language_key = str(settings.languages.offered.index(lang) + 1)
    paths = _paths(settings, committed_db, lang)
    assert len(paths) == len(settings.menu.options) + len(FAQ) + 1
    for keys, text, reached in paths:
        script = "\n".join([f"press {language_key}", *(f"press {key}" for key in keys),
                            f"expect {reached}", "hangup"])
        caller = ScriptCaller(parse_script(script))
        result = engine.run(CallSetup(
            url=live_server.url("/voice/incoming"), from_number=WITHHELD_CALLER_ID,
            to_number="+81312345678", status_callback=live_server.url("/voice/status")), caller)
        caller.call_ended()
        assert caller.failure is None, (
            f"sheet line {text!r} (keys {' '.join(keys)}): {caller.failure}\n"
            f"--- the line said:\n{result.spoken}")
