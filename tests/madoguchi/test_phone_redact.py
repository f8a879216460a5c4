"""Free text bound for a log keeps no phone number in clear, whatever notation it uses."""

from __future__ import annotations

import pytest

from madoguchi.phone import redact


@pytest.mark.parametrize("written", [
    "+819012345678", "09012345678", "090-1234-5678", "+81 90 1234 5678", "０９０１２３４５６７８",
    "(03) 1234-5678",
])
def test_every_notation_of_a_number_is_masked_to_its_last_four_digits(written):
    text = redact(f"listing calls to {written} failed")
    assert text.startswith("listing calls to ") and text.endswith("5678 failed")
    assert "1234" not in text.replace("5678", "")


def test_short_codes_and_ids_are_left_as_they_are():
    assert redact("error 20003 on CA1234 after 30 s") == "error 20003 on CA1234 after 30 s"
