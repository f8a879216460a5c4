"""Short numeric reference codes with a Damm check digit, easy to read out and key in."""

from __future__ import annotations

import secrets

from stdnum import damm

# Lengths differ so one keypad prompt can tell a booking from an inquiry.
BOOKING_CODE_LENGTH = 7
INQUIRY_CODE_LENGTH = 8


def _make(length: int) -> str:
    body = "".join(secrets.choice("0123456789") for _ in range(length - 1))
    body = str(secrets.choice("123456789")) + body[1:]  # no leading zero: easier to say
    return body + damm.calc_check_digit(body)


def new_booking_code() -> str:
    """A fresh 7-digit booking reference (6 random digits + check digit)."""
    return _make(BOOKING_CODE_LENGTH)


def new_inquiry_code() -> str:
    """A fresh 8-digit inquiry reference (7 random digits + check digit)."""
    return _make(INQUIRY_CODE_LENGTH)


def is_valid(code: str) -> bool:
    """True when the code is all digits and its check digit matches."""
    return code.isdigit() and len(code) >= 2 and damm.is_valid(code)


def kind_of(code: str) -> str | None:
    """'booking', 'inquiry', or None when the code cannot be either."""
    if not is_valid(code):
        return None
    return {BOOKING_CODE_LENGTH: "booking", INQUIRY_CODE_LENGTH: "inquiry"}.get(len(code))


def spoken_groups(code: str, size: int = 3) -> list[str]:
    """Split a code into groups for reading digit by digit ("123 456 7")."""
    return [code[i : i + size] for i in range(0, len(code), size)]
