"""The menu as a printable tree, for letters to residents and the city bulletin (rule 15).

It is built from the same settings and prompts files as the phone line, so the printed menu
never drifts from what callers hear.
"""

from __future__ import annotations

from dataclasses import dataclass

import prompts
from ivr.state import later_key
from madoguchi.settings import Settings


@dataclass(frozen=True)
class MenuLine:
    """One printable line: its depth in the tree and its text."""

    depth: int
    text: str


def _branch(catalog: prompts.Catalog, option: str, later: str,
            faq_titles: list[str]) -> list[str]:
    say = catalog.text
    if option == "book":
        return [say("resident_no_ask").replace("|", ""), say("birth_ask_short"),
                say("slots_intro"), say("slots_later", key=later)]
    if option == "check":
        return [say("option_code", key=1), say("option_identity", key=2),
                say("option_change", key=1), say("option_cancel", key=2),
                say("option_keep", key=3)]
    if option == "faq":
        return [say("faq_option", title=title, key=index)
                for index, title in enumerate(faq_titles[:4], start=1)] or [say("faq_intro")]
    return [say("option_callback", key=1), say("option_voicemail", key=2)]


def menu_tree(settings: Settings, lang: str, faq_titles: list[str] | None = None) -> list[MenuLine]:
    """The whole menu in one language: greeting facts, main options, and what follows each."""
    catalog = prompts.catalog(lang)
    menu = settings.menu
    city = settings.city.name if lang == "ja" else settings.city.name_en
    lines = [
        MenuLine(0, catalog.text("greeting", city=city).replace("|", " ")),
        MenuLine(0, catalog.text("greeting_operator", key=menu.operator_key)),
        MenuLine(0, catalog.text("greeting_no_buttons")),
        MenuLine(0, catalog.text("repeat_hint", key=menu.repeat_key)),
    ]
    for index, option in enumerate(menu.options, start=1):
        lines.append(MenuLine(1, catalog.text(f"option_{option}", key=index)))
        lines.extend(MenuLine(2, text) for text in _branch(catalog, option, later_key(menu),
                                                          faq_titles or []))
    return lines


def menu_text(settings: Settings, lang: str, faq_titles: list[str] | None = None) -> str:
    """The menu tree as indented plain text, ready to print."""
    return "\n".join("    " * line.depth + line.text
                     for line in menu_tree(settings, lang, faq_titles))
