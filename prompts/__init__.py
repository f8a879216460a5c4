"""Every spoken sentence as data: one TOML file per language with the same keys, and the voices.

A language file has three tables: [say] the sentences (with {placeholders}), [hear] the words a
caller may say for each answer (speech recognition), and [format] how dates, times and codes are
spoken. voices.toml maps each language to its Twilio voice and language code. Adding a language
is adding one file and one voice row.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

PROMPTS_DIR = Path(__file__).resolve().parent
SECTIONS = ("say", "hear", "format")


class PromptError(LookupError):
    """A prompts file or key is missing or malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Voice:
    """The Twilio voice and language code of one language."""

    voice: str
    language: str


@dataclass(frozen=True)
class Catalog:
    """All sentences, spoken words and formats of one language."""

    code: str
    voice: Voice
    say: dict[str, str] = field(default_factory=dict)
    hear: dict[str, list[str]] = field(default_factory=dict)
    format: dict[str, Any] = field(default_factory=dict)

    def text(self, key: str, /, **values: object) -> str:
        """The sentence for a key with its placeholders filled in."""
        try:
            template = self.say[key]
        except KeyError:
            raise PromptError(f"prompts/{self.code}.toml: [say] has no key {key!r}") from None
        return template.format(**values)

    def words(self, intent: str) -> list[str]:
        """The words a caller may say for an answer (empty when none are listed)."""
        return list(self.hear.get(intent, []))

    def fmt(self, key: str) -> Any:
        """A [format] entry (a template string, or a list such as weekday names)."""
        try:
            return self.format[key]
        except KeyError:
            raise PromptError(f"prompts/{self.code}.toml: [format] has no key {key!r}") from None


def placeholders(template: str) -> set[str]:
    """The names of the {placeholders} in a sentence."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@lru_cache(maxsize=8)
def load_voices(directory: Path = PROMPTS_DIR) -> dict[str, Voice]:
    """The voice table from voices.toml."""
    path = directory / "voices.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    voices = {}
    for code, row in data.items():
        if not isinstance(row, dict) or not row.get("voice") or not row.get("language"):
            raise PromptError(f"{path.name}: [{code}] needs voice = \"…\" and language = \"…\"")
        voices[code] = Voice(voice=str(row["voice"]), language=str(row["language"]))
    return voices


@lru_cache(maxsize=32)
def catalog(code: str, directory: Path = PROMPTS_DIR) -> Catalog:
    """The catalog of one language; raises PromptError when its file or voice row is missing."""
    voices = load_voices(directory)
    if code not in voices:
        raise PromptError(f"voices.toml: no row [{code}]; add its voice and language code")
    path = directory / f"{code}.toml"
    if not path.is_file():
        raise PromptError(f"prompts/{code}.toml: missing; copy ja.toml and translate it")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for section in SECTIONS:
        if not isinstance(data.get(section), dict):
            raise PromptError(f"prompts/{code}.toml: the table [{section}] is missing")
    return Catalog(
        code=code, voice=voices[code], say=data["say"], hear=data["hear"], format=data["format"]
    )


def available_languages(directory: Path = PROMPTS_DIR) -> list[str]:
    """Languages that have both a prompts file and a voice row."""
    return [code for code in load_voices(directory) if (directory / f"{code}.toml").is_file()]
