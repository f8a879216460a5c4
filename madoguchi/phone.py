"""Phone numbers: the only module that imports phonenumbers. Parse to E.164, region JP."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

# What Twilio sends in From when the caller withheld their number.
WITHHELD_VALUES = {"", "+266696687", "266696687", "anonymous", "restricted", "unknown",
                   "private", "unavailable", "blocked", "公衆電話"}
# 184 withholds and 186 shows the caller ID in Japan; they are dialled before the number.
_PRIVACY_PREFIX = re.compile(r"^(184|186)(?=0\d{9,10}$)")


class InvalidPhoneNumber(ValueError):
    """The text is not a usable phone number; the message says why."""


def is_withheld(raw: str | None) -> bool:
    """True when a caller ID is missing or one of the withheld placeholders."""
    return raw is None or raw.strip().lower() in WITHHELD_VALUES


def _clean(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw).strip()
    text = re.sub(r"[\s\-‐‑–—―ー()（）.]", "", text)
    return _PRIVACY_PREFIX.sub("", text)


def normalize(raw: str, region: str = "JP") -> str:
    """E.164 form of a number written in any common notation; raises InvalidPhoneNumber."""
    if is_withheld(raw):
        raise InvalidPhoneNumber("no number: the caller ID is withheld")
    text = _clean(raw)
    if not re.fullmatch(r"\+?\d{6,16}", text):
        raise InvalidPhoneNumber("not a phone number: only digits, + and hyphens are allowed")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number ({exc._msg})") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("not a valid number: check the number of digits and area code")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def try_normalize(raw: str | None, region: str = "JP") -> str | None:
    """E.164 form, or None for withheld or unusable numbers."""
    if raw is None:
        return None
    try:
        return normalize(raw, region)
    except InvalidPhoneNumber:
        return None


def national(e164: str) -> str:
    """The number as written at home: 090-1234-5678 for Japanese numbers."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)


def is_mobile(e164: str) -> bool:
    """True when the number can receive SMS (a mobile number)."""
    kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    return kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def spoken_digit_groups(e164: str) -> list[str]:
    """Digit groups of the national form, for reading back one digit at a time."""
    return [group for group in re.split(r"[^\d]+", national(e164)) if group]


def mask(raw: str | None) -> str:
    """A number safe for logs: only the last 4 digits stay ("+81******5678")."""
    if raw is None or is_withheld(raw):
        return "withheld"
    digits = re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", raw))
    if len(digits) <= 4:
        return "*" * len(digits)
    prefix = "+" if raw.strip().startswith("+") else ""
    keep = 2 if prefix else 0
    return prefix + digits[:keep] + "*" * (len(digits) - keep - 4) + digits[-4:]


# A run of 8 or more digits, with the separators people write between them (090-1234-5678,
# +81 90 1234 5678): anything that may be a phone number inside free text.
_NUMBER_IN_TEXT = re.compile(r"\+?\d(?:[\d\-\s()]{6,}\d)")


def redact(text: str) -> str:
    """Free text (an error message, a provider's reply) with every phone-like number masked."""
    def masked(match: re.Match[str]) -> str:
        found = match.group(0)
        return mask(found) if sum(ch.isdigit() for ch in found) >= 8 else found

    return _NUMBER_IN_TEXT.sub(masked, unicodedata.normalize("NFKC", text))
