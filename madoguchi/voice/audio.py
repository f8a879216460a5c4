"""Recorded prompts: a city may record a human voice for any prompt key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from madoguchi.settings import Settings


def audio_folder(settings: Settings) -> Path | None:
    """The configured folder of recorded prompts (relative to config.toml), if any."""
    if not settings.prompts.audio_dir:
        return None
    directory = Path(settings.prompts.audio_dir)
    return directory if directory.is_absolute() else settings.config_path.parent / directory


def faq_key(entry_id: int) -> str:
    """The prompt key a city records a FAQ answer under (e.g. ja/faq_3.mp3): played on the line
    instead of the synthesised answer, and in the FAQ editor's preview."""
    return f"faq_{entry_id}"


def audio_finder(settings: Settings) -> Callable[[str, str], str | None]:
    """Where the recorded audio of a prompt key is published, if the city recorded it."""
    directory = audio_folder(settings)
    base_url = settings.prompts.audio_base_url.rstrip("/")

    def find(lang: str, key: str) -> str | None:
        if directory is None or not (directory / lang / f"{key}.mp3").is_file():
            return None
        if base_url:
            return f"{base_url}/{lang}/{key}.mp3"
        return f"{settings.secrets.public_base_url}/voice/audio/{lang}/{key}.mp3"

    return find
