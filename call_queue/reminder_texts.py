"""What a reminder says about the appointment: when, where, whose, and how to change it.

A shared landline may ring for several people of one household, so every reminder names the
resident — by family name only: the written form in a text message, the reading on the phone
(a voice reads katakana reliably, kanji names not always), romanised for English.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import jaconv

import prompts
from madoguchi import phone
from madoguchi.models import Booking, Resident
from madoguchi.settings import Settings
from madoguchi.voice.speech import Speaker


def _first_part(text: str) -> str:
    parts = unicodedata.normalize("NFKC", text or "").split()
    return parts[0] if parts else ""


def family_name(resident: Resident, lang: str, *, spoken: bool) -> str:
    """The resident's family name as written (text) or as read aloud (call), in a language."""
    written, reading = _first_part(resident.name), _first_part(resident.name_kana)
    if lang != "ja":
        if written.isascii():
            # Written in Latin letters (SMITH): the resident's own spelling, not its katakana
            # read back as romaji ("Sumisu").
            return written.title()
        # The long-vowel mark has no letter of its own (テイラー would end in "-").
        kana = jaconv.hira2kata(reading).replace("ー", "")
        romaji = jaconv.kata2alphabet(kana) if kana else ""
        return romaji.capitalize() if romaji.isascii() else ""
    return reading if spoken and reading else written


def language_of(settings: Settings, booking: Booking) -> str:
    """The resident's language when the line offers it, else the line's default."""
    lang = booking.resident.language
    return lang if lang in settings.languages.offered else settings.languages.default


@dataclass(frozen=True)
class Appointment:
    """The values a reminder sentence is filled with, in one language."""

    city: str
    name: str
    when: str
    place: str
    code: str
    number: str


def appointment(settings: Settings, booking: Booking, lang: str, *, spoken: bool) -> Appointment:
    """The booking's date, time, place and holder, and the city's number, said or written."""
    speaker = Speaker(prompts.catalog(lang), settings.tz, settings.menu.pause_ms)
    site = booking.slot.site
    city_number = phone.try_normalize(settings.city.phone_number, settings.city.region)
    if city_number is None:
        number = settings.city.phone_number
    else:
        number = speaker.phone_number(city_number) if spoken else phone.national(city_number)
    return Appointment(
        city=settings.city.name if lang == "ja" else settings.city.name_en,
        name=family_name(booking.resident, lang, spoken=spoken),
        when=speaker.when(booking.slot.starts_at),
        place=site.name if lang == "ja" else site.name_en,
        code=speaker.digits(booking.reference) if spoken else booking.reference,
        number=number,
    )


def sms_text(settings: Settings, booking: Booking) -> str:
    """The reminder text message: the appointment, whose it is, and how to change it."""
    lang = language_of(settings, booking)
    values = appointment(settings, booking, lang, spoken=False)
    return prompts.catalog(lang).text("reminder_sms", **vars(values))
