"""The menu as a printable tree, for letters to residents and the city bulletin (rule 15).

It is built from the same settings and prompts files as the phone line, so the printed menu
never drifts from what callers hear.
"""

from __future__ import annotations

from dataclasses import dataclass

import prompts
from ivr import faq_pages
from ivr.state import later_key
from madoguchi.settings import Settings


@dataclass(frozen=True)
class MenuLine:
    """One printable line: its depth in the tree, its text, and the keys that choose it.

    `keys` are pressed at the main menu and each question after it (empty for lines that are
    not a choice); a line naming an FAQ entry is reached by exactly these keys on the phone.
    """

    depth: int
    text: str
    keys: tuple[str, ...] = ()


def _faq_branch(catalog: prompts.Catalog, key: str, later: str,
                faq_titles: list[str]) -> list[MenuLine]:
    """The FAQ titles page by page, as the line reads them: each page behind the "more" key."""
    if not faq_titles:
        return [MenuLine(2, catalog.text("faq_intro"))]
    lines: list[MenuLine] = []
    path: tuple[str, ...] = (key,)
    paged = faq_pages.pages(faq_titles)
    for number, page in enumerate(paged):
        depth = 2 + number
        for index, title in enumerate(page, start=1):
            lines.append(MenuLine(depth, catalog.text("faq_option", title=title, key=index),
                                  (*path, str(index))))
        if number + 1 < len(paged):
            path = (*path, later)
            lines.append(MenuLine(depth, catalog.text("faq_more", key=later), path))
    return lines


def _branch(catalog: prompts.Catalog, option: str, key: str, later: str,
            faq_titles: list[str]) -> list[MenuLine]:
    say = catalog.text
    if option == "faq":
        return _faq_branch(catalog, key, later, faq_titles)
    if option == "book":
        # Where the line pauses the sheet runs on (with a space between English sentences).
        texts = [say("resident_no_ask").replace("|", "" if catalog.code == "ja" else " "),
                 say("birth_ask_short"),
                 say("slots_intro"), say("slots_later", key=later)]
    elif option == "check":
        texts = [say("option_code", key=1), say("option_identity", key=2),
                 say("option_change", key=1), say("option_cancel", key=2),
                 say("option_keep", key=3)]
    else:
        texts = [say("option_callback", key=1), say("option_voicemail", key=2)]
    return [MenuLine(2, text) for text in texts]


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
        key = str(index)
        lines.append(MenuLine(1, catalog.text(f"option_{option}", key=index), (key,)))
        lines.extend(_branch(catalog, option, key, later_key(menu), faq_titles or []))
    return lines


def menu_text(settings: Settings, lang: str, faq_titles: list[str] | None = None) -> str:
    """The menu tree as indented plain text, ready to print."""
    return "\n".join("    " * line.depth + line.text
                     for line in menu_tree(settings, lang, faq_titles))
