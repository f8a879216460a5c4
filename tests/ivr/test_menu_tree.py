"""The printable menu is built from the same settings and sentences the callers hear."""

from __future__ import annotations

from ivr.menu_tree import menu_text, menu_tree
from tests.ivr.conftest import configure


def test_the_printed_menu_lists_the_main_options_in_order_with_their_keys(settings):
    top = [line.text for line in menu_tree(settings, "ja") if line.depth == 1]
    assert top == [
        "ご予約の方は、1を押してください。",
        "ご予約の確認や取り消し、お問い合わせの状況の方は、2を押してください。",
        "よくあるご質問は、3を押してください。",
        "係の人と、お話しになりたい方は、4を押してください。",
    ]


def test_the_printed_menu_says_how_to_reach_a_person_and_repeat(settings):
    text = menu_text(settings, "ja")
    assert "いつでも、0を押すか" in text
    assert "もう一度お聞きになるときは、9を押してください。" in text
    assert "ほかの日時を、お聞きになる方は、8を押してください。" in text


def test_the_printed_menu_follows_the_configured_order_and_language(app):
    configure(app, menu={"options": ["faq", "book"]})
    lines = menu_tree(app.config["SETTINGS"], "en", faq_titles=["parking"])
    top = [line.text for line in lines if line.depth == 1]
    assert top == ["For answers to common questions, press 1.", "To make an appointment, press 2."]
    assert "    " * 2 + "For parking, press 1." in menu_text(app.config["SETTINGS"], "en",
                                                            ["parking"])
