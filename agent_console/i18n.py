"""The console's words in Japanese and English, read from the message catalogues.

The texts live in `translations/<language>/LC_MESSAGES/messages.po`, one entry per key (the
msgid is the key that code passes to `translate()` and templates to `t()`), compiled to the
`messages.mo` beside it; both languages hold the same keys and the same `{placeholders}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

from babel.messages.mofile import read_mo
from flask import has_request_context, request, session
from flask_login import current_user

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"
TRANSLATIONS = Path(__file__).parent / "translations"
DOMAIN = "messages"


def catalogue_path(language: str, suffix: str = ".mo") -> Path:
    """Where a language's catalogue lives: the compiled .mo, or the .po it is compiled from."""
    return TRANSLATIONS / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


@cache
def messages(language: str) -> Mapping[str, str]:
    """Every key of a language with its text, read once per process from the compiled catalogue."""
    if language not in LANGUAGES:
        raise KeyError(f"the console has no language {language!r}; it speaks {LANGUAGES}")
    with catalogue_path(language).open("rb") as compiled:
        catalogue = read_mo(compiled)
    # The entry with an empty msgid is the catalogue's header, not a message.
    return MappingProxyType({m.id: m.string for m in catalogue if m.id and m.string})


def current_language() -> str:
    """The logged-in operator's language, else the one chosen on the login page, else Japanese."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    if current_user and current_user.is_authenticated and current_user.language in LANGUAGES:
        return current_user.language
    chosen = request.args.get("lang") or session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def translate(key: str, language: str | None = None, **values: object) -> str:
    """The message for a key in the language, with its {placeholders} filled in."""
    text = messages(language or current_language()).get(key)
    if text is None:
        raise KeyError(f"console message {key!r} is missing; add it to every language's "
                       "messages.po under agent_console/translations and compile them")
    return text.format(**values) if values else text
