"""Hostile JSON bodies the API once answered with 500: now a clear 400 or 413."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_API_TOKEN


@pytest.mark.parametrize("body", [
    "[" * 30_000 + "]" * 30_000,  # an array, however deep, is not a booking
    '{"slot_id": ' + "[" * 30_000 + "]" * 30_000 + "}",  # deep inside an object
])
def test_a_booking_body_nested_thousands_deep_is_refused_plainly(client, body):
    response = client.post("/api/bookings", data=body,
                           headers={"Authorization": f"Bearer {TEST_API_TOKEN}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"


def test_a_body_nested_a_hundred_thousand_deep_is_over_the_size_limit(client):
    response = client.post("/api/bookings", data="[" * 100_000 + "]" * 100_000,
                           headers={"Authorization": f"Bearer {TEST_API_TOKEN}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 413


def test_an_oversized_booking_body_is_refused_with_413(client):
    body = '{"slot_id": 1, "resident_no": "' + "9" * 70_000 + '"}'
    response = client.post("/api/bookings", data=body,
                           headers={"Authorization": f"Bearer {TEST_API_TOKEN}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "body_too_large"
