"""The JSON API of the web booking front, every answer checked against its own OpenAPI document."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select, update

from madoguchi import booking
from madoguchi.api_schemas import MAX_BODY_BYTES
from madoguchi.models import Booking, Campaign, Slot
from madoguchi.query_values import MAX_ID
from tests import factories
from tests.conftest import TEST_API_TOKEN

CITY = ZoneInfo("Asia/Tokyo")
DAY = datetime.now(CITY).date() + timedelta(days=40)
NEXT_DAY = DAY + timedelta(days=1)
BIRTH = date(1948, 5, 17)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment of a day on the city's clock."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CITY)


class Api:
    """A test client that checks every answer is JSON and matches the served OpenAPI document."""

    def __init__(self, client) -> None:
        self.client = client
        self.document = client.get("/api/openapi.json").get_json()

    def call(self, method: str, path: str, *, template: str | None = None,
             token: str | None = TEST_API_TOKEN, headers: dict | None = None, **kwargs):
        """Send one request (with the API token unless told otherwise) and check the answer."""
        headers = dict(headers or {})
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        self.check(response, method, template or path.split("?")[0])
        return response

    def check(self, response, method: str, template: str) -> None:
        """Assert the answer is JSON and valid against the documented schema for its status."""
        assert response.is_json, response.get_data(as_text=True)
        operation = self.document["paths"].get(template, {}).get(method.lower())
        if operation is None:
            schema = {"$ref": "#/components/schemas/ErrorResponse"}
        else:
            documented = operation["responses"]
            assert str(response.status_code) in documented, (
                f"{method} {template} answered {response.status_code}, which is not documented"
            )
            schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
        Draft202012Validator(
            {**schema, "components": self.document["components"]},
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        ).validate(response.get_json())

    def book(self, slot_id: int, resident, *, key: str | None = None, **fields):
        """POST /api/bookings for a resident."""
        body = {"slot_id": slot_id, "resident_no": resident.resident_no,
                "birth_date": resident.birth_date.isoformat(), **fields}
        headers = {"Idempotency-Key": key} if key else {}
        return self.call("POST", "/api/bookings", json=body, headers=headers)

    def cancel(self, reference: str):
        """DELETE /api/bookings/<reference>."""
        return self.call("DELETE", f"/api/bookings/{reference}",
                         template="/api/bookings/{reference}")


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture
def world(db_session):
    """One open campaign, one site, two slots of capacity 2 on DAY, one just after midnight."""
    campaign = factories.campaign(db_session)
    site = factories.site(db_session)
    nine = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id,
                          starts_at=at(DAY, 9), capacity=2)
    half_past = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id,
                               starts_at=at(DAY, 9, 30), capacity=2)
    after_midnight = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id,
                                    starts_at=at(NEXT_DAY, 0, 30), capacity=2)
    db_session.commit()
    return campaign, site, nine, half_past, after_midnight


def rows_of(db_session, resident_id: int) -> list[Booking]:
    db_session.expire_all()
    return list(db_session.scalars(select(Booking).where(Booking.resident_id == resident_id)))


def error_of(response) -> dict:
    return response.get_json()["error"]


# --- the document and the token ---------------------------------------------------------------


def test_the_openapi_document_is_served_without_a_token_and_lists_every_endpoint(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/api/slots", "/api/bookings", "/api/bookings/{reference}", "/api/counts",
        "/api/openapi.json",
    }
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert "Idempotency-Key" in str(document["paths"]["/api/bookings"]["post"]["parameters"])


def _id_schemas(document: dict):
    """(where, schema) of every documented id: properties `id`/`*_id` and parameters `*id`."""
    for model, schema in document["components"]["schemas"].items():
        for name, field in schema.get("properties", {}).items():
            if name == "id" or name.endswith("_id"):
                yield f"{model}.{name}", field
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["name"].lower().endswith("id"):
                    yield f"{method.upper()} {path} {parameter['name']}", parameter["schema"]


def test_every_documented_id_is_an_integer_from_1_to_the_largest_database_id(client):
    document = client.get("/api/openapi.json").get_json()
    ids = dict(_id_schemas(document))
    assert "BookingRequest.slot_id" in ids and "SlotOut.id" in ids
    for where, schema in ids.items():
        assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", 1, MAX_ID), (
            where
        )


def test_every_operation_that_reads_a_body_documents_400_malformed_json_and_413_too_large(client):
    document = client.get("/api/openapi.json").get_json()
    with_body = [operation for operations in document["paths"].values()
                 for operation in operations.values() if "requestBody" in operation]
    assert with_body
    for operation in with_body:
        assert "malformed_json" in operation["responses"]["400"]["description"]
        assert "body_too_large" in operation["responses"]["413"]["description"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TEST_API_TOKEN}"])
def test_a_request_without_the_right_token_is_401_with_a_bearer_challenge(api, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = api.call("GET", f"/api/slots?date={DAY}", token=None, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_of(response)["code"] == "unauthorized"


def test_without_a_configured_token_the_api_answers_503_saying_which_variable_to_set(app, api):
    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = settings.model_copy(
        update={"secrets": settings.secrets.model_copy(update={"api_token": None})}
    )
    response = api.call("GET", f"/api/counts?date={DAY}")
    assert response.status_code == 503
    assert error_of(response)["code"] == "api_token_not_configured"
    assert "MADOGUCHI_API_TOKEN" in error_of(response)["message"]


# --- slots ------------------------------------------------------------------------------------


def test_the_slots_of_a_day_carry_the_city_offset_and_counts_from_rows(api, db_session, world):
    _, site, nine, half_past, _ = world
    booking.book(db_session, slot_id=nine.id, resident_id=factories.resident(db_session).id,
                 channel="ivr")
    response = api.call("GET", f"/api/slots?date={DAY}")
    assert response.status_code == 200
    first, second = response.get_json()
    assert (first["id"], second["id"]) == (nine.id, half_past.id)
    assert first["start"] == f"{DAY}T09:00:00+09:00"
    assert first["end"] == f"{DAY}T09:30:00+09:00"
    assert first["site"] == {"code": site.code, "name": site.name}
    assert (first["capacity"], first["booked"], first["remaining"]) == (2, 1, 1)
    assert (second["booked"], second["remaining"]) == (0, 2)


def test_a_slot_just_after_midnight_in_the_city_belongs_to_the_next_day(api, world):
    after_midnight = world[4]
    listed = api.call("GET", f"/api/slots?date={NEXT_DAY}").get_json()
    assert [item["id"] for item in listed] == [after_midnight.id]
    assert listed[0]["start"] == f"{NEXT_DAY}T00:30:00+09:00"


def test_slots_can_be_narrowed_to_one_campaign_and_closed_campaigns_are_not_offered(
    api, db_session, world
):
    campaign, site, nine, half_past, _ = world
    other = factories.campaign(db_session)
    factories.slot(db_session, campaign_id=other.id, site_id=site.id, starts_at=at(DAY, 11))
    closed = factories.campaign(db_session, active=False)
    factories.slot(db_session, campaign_id=closed.id, site_id=site.id, starts_at=at(DAY, 12))
    db_session.commit()
    narrowed = api.call("GET", f"/api/slots?date={DAY}&campaign={campaign.code}").get_json()
    assert [item["id"] for item in narrowed] == [nine.id, half_past.id]
    everything = api.call("GET", f"/api/slots?date={DAY}").get_json()
    assert {item["campaign"] for item in everything} == {campaign.code, other.code}


@pytest.mark.parametrize("query", ["", "?date=", "?date=2031/01/02", "?date=2031-02-30"])
def test_a_missing_or_misspelt_date_is_422_naming_the_date_and_its_form(api, world, query):
    response = api.call("GET", f"/api/slots{query}")
    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_field", "date")
    assert "YYYY-MM-DD" in error["message"]


@pytest.mark.parametrize("path", ["/api/slots", "/api/counts"])
def test_an_unknown_campaign_code_is_404_not_found_naming_the_campaign(api, world, path):
    response = api.call("GET", f"{path}?date={DAY}&campaign=NO-SUCH")
    assert response.status_code == 404
    error = error_of(response)
    assert (error["code"], error["field"]) == ("not_found", "campaign")
    assert "NO-SUCH" in error["message"]


def test_a_nul_character_in_a_parameter_is_422_naming_it_not_a_server_error(api, world):
    response = api.call("GET", f"/api/counts?date={DAY}&campaign=AB%00C")
    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_field", "campaign")
    assert "NUL" in error["message"]
    body = {"slot_id": world[2].id, "resident_no": "1000\u000001", "birth_date": "1948-05-17"}
    response = api.call("POST", "/api/bookings", json=body)
    assert response.status_code == 422 and error_of(response)["field"] == "resident_no"


# --- booking ----------------------------------------------------------------------------------


def test_a_resident_books_a_slot_through_the_api_and_gets_a_reference(api, db_session, world):
    nine = world[2]
    resident = factories.resident(db_session)
    db_session.commit()
    response = api.book(nine.id, resident)
    assert response.status_code == 201
    made = response.get_json()
    assert made["status"] == "confirmed" and len(made["reference"]) == 7
    slot = made["slot"]
    assert (slot["id"], slot["booked"], slot["remaining"]) == (nine.id, 1, 1)
    (row,) = rows_of(db_session, resident.id)
    assert (row.reference, row.channel, row.status) == (made["reference"], "api", "confirmed")


def test_a_wrong_register_number_or_birth_date_gets_the_same_404_that_names_neither(
    api, db_session, world
):
    nine = world[2]
    resident = factories.resident(db_session)
    db_session.commit()
    wrong_number = api.book(nine.id, resident, resident_no="999999999")
    wrong_birth = api.book(nine.id, resident, birth_date="1948-05-18")
    assert wrong_number.status_code == wrong_birth.status_code == 404
    assert wrong_number.get_json() == wrong_birth.get_json()
    assert error_of(wrong_number)["code"] == "not_found"
    assert "field" not in error_of(wrong_number)
    assert rows_of(db_session, resident.id) == []


def test_booking_a_slot_that_does_not_exist_is_404_not_found(api, db_session, world):
    resident = factories.resident(db_session)
    db_session.commit()
    response = api.book(987654, resident)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize("body", [b"{", b"", b"\xff\xfe", b"[1, 2]", b'"slot"'])
def test_a_body_that_is_not_a_json_object_is_400_malformed_json(api, world, body):
    response = api.call("POST", "/api/bookings", data=body,
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("change", "field", "hint"),
    [
        ({"slot_id": None}, "slot_id", "whole number"),
        ({"slot_id": "12"}, "slot_id", "whole number"),
        ({"slot_id": True}, "slot_id", "whole number"),
        ({"slot_id": 0}, "slot_id", "whole number"),
        ({"birth_date": "17/05/1948"}, "birth_date", "YYYY-MM-DD"),
        ({"birth_date": 19480517}, "birth_date", "YYYY-MM-DD"),
        ({"birth_date": "1948-02-30"}, "birth_date", "YYYY-MM-DD"),
        ({"birth_date": None}, "birth_date", "YYYY-MM-DD"),
        ({"resident_no": 100001}, "resident_no", "register number"),
        ({"resident_no": "  "}, "resident_no", "register number"),
        ({"resident_no": " 100001"}, "resident_no", "register number"),
        ({"resident_no": "１００００１"}, "resident_no", "register number"),
        ({"birth_date": "1899-12-31"}, "birth_date", "YYYY-MM-DD"),
        ({"birth_date": "１９４８-05-17"}, "birth_date", "YYYY-MM-DD"),
        ({"birthdate": "1948-05-17"}, "birthdate", "birth_date"),
    ],
)
def test_a_wrong_or_missing_field_is_422_naming_it_and_its_expected_form(
    api, db_session, world, change, field, hint
):
    body = {"slot_id": world[2].id, "resident_no": "100001", "birth_date": "1948-05-17"}
    body.update(change)
    body = {key: value for key, value in body.items() if value is not None}
    response = api.call("POST", "/api/bookings", json=body)
    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_field", field)
    assert hint in error["message"]


@pytest.mark.parametrize("spelling", ["{id}.0", "{id}.00", "{id}e0"])
def test_a_slot_id_spelt_with_a_fraction_or_exponent_is_422_naming_it_and_books_nothing(
    api, db_session, world, spelling
):
    # JSON Schema counts 135.0 as an integer; the API takes only the literal 135, as any JSON
    # encoder writes a whole number, and says so in the document's description of slot_id.
    resident = factories.resident(db_session)
    db_session.commit()
    slot_id = spelling.format(id=world[2].id)
    body = (f'{{"slot_id": {slot_id}, "resident_no": "{resident.resident_no}", '
            f'"birth_date": "{resident.birth_date.isoformat()}"}}')
    response = api.call("POST", "/api/bookings", data=body,
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_field", "slot_id")
    assert "JSON integer" in error["message"]
    assert rows_of(db_session, resident.id) == []


@pytest.mark.parametrize("slot_id", [0, -1, MAX_ID + 1, 2**63, 10**30])
def test_a_slot_id_outside_1_to_the_largest_database_id_is_422_naming_it(
    api, db_session, world, slot_id
):
    resident = factories.resident(db_session)
    db_session.commit()
    response = api.book(slot_id, resident)
    assert response.status_code == 422
    assert (error_of(response)["code"], error_of(response)["field"]) == ("invalid_field", "slot_id")


def test_the_largest_database_id_is_a_well_formed_slot_id_that_names_no_slot(
    api, db_session, world
):
    resident = factories.resident(db_session)
    db_session.commit()
    response = api.book(MAX_ID, resident)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def _padded_booking_body(slot_id: int, resident, size: int) -> bytes:
    body = json.dumps({"slot_id": slot_id, "resident_no": resident.resident_no,
                       "birth_date": resident.birth_date.isoformat()}).encode()
    return body + b" " * (size - len(body))


def test_a_body_over_64_kb_is_413_body_too_large_and_books_nothing(api, db_session, world):
    resident = factories.resident(db_session)
    db_session.commit()
    response = api.call("POST", "/api/bookings",
                        data=_padded_booking_body(world[2].id, resident, MAX_BODY_BYTES + 1),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"
    assert rows_of(db_session, resident.id) == []


def test_a_body_of_exactly_64_kb_is_read_and_books(api, db_session, world):
    resident = factories.resident(db_session)
    db_session.commit()
    response = api.call("POST", "/api/bookings",
                        data=_padded_booking_body(world[2].id, resident, MAX_BODY_BYTES),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 201


def test_a_retry_with_the_same_idempotency_key_returns_the_same_booking(api, db_session, world):
    nine = world[2]
    resident = factories.resident(db_session)
    db_session.commit()
    first = api.book(nine.id, resident, key="7d7f3c1e-attempt-1")
    retry = api.book(nine.id, resident, key="7d7f3c1e-attempt-1")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.get_json() == first.get_json()
    assert len(rows_of(db_session, resident.id)) == 1
    assert booking.slot_counts(db_session, slot_ids=[nine.id])[0].booked == 1


def test_reusing_an_idempotency_key_for_another_slot_is_409_idempotency_conflict(
    api, db_session, world
):
    _, _, nine, half_past, _ = world
    resident = factories.resident(db_session)
    db_session.commit()
    assert api.book(nine.id, resident, key="same-key").status_code == 201
    response = api.book(half_past.id, resident, key="same-key")
    assert response.status_code == 409
    assert error_of(response)["code"] == "idempotency_conflict"
    assert [row.slot_id for row in rows_of(db_session, resident.id)] == [nine.id]


def test_an_overlong_idempotency_key_is_422_naming_the_header(api, db_session, world):
    resident = factories.resident(db_session)
    db_session.commit()
    response = api.book(world[2].id, resident, key="k" * 200)
    assert response.status_code == 422
    assert error_of(response)["field"] == "Idempotency-Key"
    assert rows_of(db_session, resident.id) == []


@pytest.mark.parametrize("key", [" leading-space", "trailing-space ", "tab\tinside", "cl\u00e9"])
def test_an_idempotency_key_of_other_than_visible_ascii_is_422_naming_the_header(
    api, db_session, world, key
):
    resident = factories.resident(db_session)
    db_session.commit()
    response = api.book(world[2].id, resident, key=key)
    assert response.status_code == 422
    assert error_of(response)["field"] == "Idempotency-Key"
    assert rows_of(db_session, resident.id) == []


def test_booking_a_full_slot_is_409_slot_full_and_writes_nothing(api, db_session, world):
    nine = world[2]
    for resident in factories.residents(db_session, 2):
        booking.book(db_session, slot_id=nine.id, resident_id=resident.id, channel="ivr")
    late = factories.resident(db_session)
    db_session.commit()
    before = booking.slot_counts(db_session, slot_ids=[nine.id])
    response = api.book(nine.id, late)
    assert response.status_code == 409
    assert error_of(response)["code"] == "slot_full"
    assert rows_of(db_session, late.id) == []
    assert booking.slot_counts(db_session, slot_ids=[nine.id]) == before
    assert db_session.get(Slot, nine.id).booked_count == 2


def test_a_second_booking_in_the_campaign_is_409_already_booked_with_the_existing_reference(
    api, db_session, world
):
    _, _, nine, half_past, _ = world
    resident = factories.resident(db_session)
    db_session.commit()
    first = api.book(nine.id, resident).get_json()
    response = api.book(half_past.id, resident)
    assert response.status_code == 409
    assert error_of(response)["code"] == "already_booked"
    assert error_of(response)["reference"] == first["reference"]
    assert len(rows_of(db_session, resident.id)) == 1


def test_booking_in_a_closed_campaign_is_409_not_eligible_with_the_reason(api, db_session, world):
    campaign, _, nine, _, _ = world
    resident = factories.resident(db_session)
    db_session.execute(update(Campaign).where(Campaign.id == campaign.id).values(active=False))
    db_session.commit()
    response = api.book(nine.id, resident)
    assert response.status_code == 409
    assert (error_of(response)["code"], error_of(response)["reason"]) == (
        "not_eligible", "campaign_closed",
    )
    assert rows_of(db_session, resident.id) == []


# --- cancelling -------------------------------------------------------------------------------


def test_cancelling_frees_the_place_and_cancelling_again_is_harmless(api, db_session, world):
    nine = world[2]
    resident = factories.resident(db_session)
    db_session.commit()
    reference = api.book(nine.id, resident).get_json()["reference"]
    first = api.cancel(reference)
    again = api.cancel(reference)
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json()
    cancelled = first.get_json()
    assert (cancelled["reference"], cancelled["status"]) == (reference, "cancelled")
    assert (cancelled["slot"]["booked"], cancelled["slot"]["remaining"]) == (0, 2)
    assert api.book(nine.id, resident).status_code == 201


def test_cancelling_an_unknown_reference_is_404_not_found(api, world):
    response = api.cancel("1234567")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    "reference", ["abcdefg", "123456", "12345678", "１２３４５６７", "123456%00"]
)
def test_a_reference_that_is_not_7_digits_is_404_not_found_saying_the_form(api, world, reference):
    response = api.cancel(reference)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert "7 digits" in error_of(response)["message"]


def test_an_attended_booking_cannot_be_cancelled_and_says_so_with_409(api, db_session, world):
    resident = factories.resident(db_session)
    made = booking.book(db_session, slot_id=world[2].id, resident_id=resident.id, channel="api")
    made.status = "attended"
    db_session.commit()
    response = api.cancel(made.reference)
    assert response.status_code == 409
    assert error_of(response)["code"] == "not_eligible"
    assert rows_of(db_session, resident.id)[0].status == "attended"


# --- the public ledger ------------------------------------------------------------------------


def test_the_ledger_per_slot_and_per_day_matches_the_rows_after_bookings_and_cancellations(
    api, db_session, world
):
    campaign, _, nine, half_past, after_midnight = world
    a, b, c, d = factories.residents(db_session, 4)
    db_session.commit()
    to_cancel = api.book(nine.id, a).get_json()["reference"]
    api.book(nine.id, b)
    api.book(half_past.id, c)
    api.book(after_midnight.id, d)
    api.cancel(to_cancel)

    ledger = api.call("GET", f"/api/counts?date={DAY}").get_json()
    assert ledger["date"] == DAY.isoformat()
    lines = {line["id"]: line for line in ledger["slots"]}
    assert set(lines) == {nine.id, half_past.id}
    for count in booking.slot_counts(db_session, slot_ids=[nine.id, half_past.id]):
        line = lines[count.slot_id]
        assert (line["capacity"], line["booked"], line["cancelled"], line["remaining"]) == (
            count.capacity, count.booked, count.cancelled, count.remaining,
        )
    assert (lines[nine.id]["booked"], lines[nine.id]["cancelled"]) == (1, 1)
    (day,) = ledger["days"]
    assert day == {"date": DAY.isoformat(), "slots": 2, "capacity": 4, "booked": 2,
                   "cancelled": 1, "remaining": 2, "beyond_capacity": 0}

    whole = api.call("GET", f"/api/counts?campaign={campaign.code}").get_json()
    assert [(row["date"], row["booked"]) for row in whole["days"]] == [
        (DAY.isoformat(), 2), (NEXT_DAY.isoformat(), 1),
    ]
    db_session.expire_all()
    rows = db_session.scalar(
        select(func.count()).select_from(Booking).where(Booking.status == "confirmed")
    )
    assert sum(row["booked"] for row in whole["days"]) == rows == 3


def test_the_published_counts_show_bookings_taken_beyond_the_places(api, db_session, world):
    _, _, nine, _, _ = world
    a, b, c = factories.residents(db_session, 3)
    db_session.commit()
    api.book(nine.id, a)
    api.book(nine.id, b)
    booking.book_beyond_capacity(db_session, slot_id=nine.id, resident_id=c.id,
                                 operator_id=None, reason="付き添いの家族と同じ時間に")
    ledger = api.call("GET", f"/api/counts?date={DAY}").get_json()
    line = next(line for line in ledger["slots"] if line["id"] == nine.id)
    assert (line["capacity"], line["booked"], line["beyond_capacity"], line["remaining"]) == (
        2, 3, 1, 0)
    assert ledger["days"][0]["beyond_capacity"] == 1


# --- errors outside the endpoints -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api", "/api/bookings/1/2"])
def test_an_unknown_api_address_is_a_json_404(api, path):
    response = api.call("GET", path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("PUT", "/api/slots", "GET"), ("GET", "/api/bookings", "POST"),
     ("POST", "/api/bookings/1234567", "DELETE")],
)
def test_a_wrong_method_is_a_json_405_naming_the_allowed_one(api, method, path, allowed):
    response = api.call(method, path, template="(not an operation)")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert error_of(response)["message"].endswith(f"use {allowed}")
    assert allowed in response.headers["Allow"]


def test_a_server_failure_is_a_json_500_without_the_inner_details(api, world, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("connection string postgres://secret")

    monkeypatch.setattr(booking, "slot_counts", broken)
    response = api.call("GET", f"/api/slots?date={DAY}")
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_the_blueprint_can_be_exempted_from_the_console_s_csrf_protection(app, db_session, world):
    from flask_wtf.csrf import CSRFProtect

    from madoguchi import api as api_module

    csrf = CSRFProtect(app)
    resident = factories.resident(db_session)
    db_session.commit()
    client = app.test_client()
    body = {"slot_id": world[2].id, "resident_no": resident.resident_no,
            "birth_date": resident.birth_date.isoformat()}
    headers = {"Authorization": f"Bearer {TEST_API_TOKEN}"}
    refused = client.post("/api/bookings", json=body, headers=headers)
    assert refused.status_code == 400 and refused.is_json
    assert "CSRF" in error_of(refused)["message"]
    csrf.exempt(api_module.bp)
    assert client.post("/api/bookings", json=body, headers=headers).status_code == 201


# --- through real concurrency -----------------------------------------------------------------


@pytest.mark.slow
def test_simultaneous_api_bookings_never_exceed_a_slot_s_capacity(app, committed_db):
    with committed_db() as session:
        campaign = factories.campaign(session)
        site = factories.site(session)
        slot = factories.slot(session, campaign_id=campaign.id, site_id=site.id,
                              starts_at=at(DAY, 10), capacity=3)
        people = [(person.resident_no, person.birth_date.isoformat())
                  for person in factories.residents(session, 10)]
        session.commit()
        slot_id = slot.id
    start = threading.Barrier(len(people))
    statuses: list[tuple[int, str]] = []

    def attempt(resident_no: str, birth: str) -> None:
        client = app.test_client()
        start.wait()
        response = client.post(
            "/api/bookings",
            json={"slot_id": slot_id, "resident_no": resident_no, "birth_date": birth},
            headers={"Authorization": f"Bearer {TEST_API_TOKEN}"},
        )
        body = response.get_json()
        statuses.append((response.status_code, body.get("error", {}).get("code", "")))

    threads = [threading.Thread(target=attempt, args=person) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [(201, "")] * 3 + [(409, "slot_full")] * 7
    with committed_db() as session:
        (count,) = booking.slot_counts(session, slot_ids=[slot_id])
        assert (count.booked, count.remaining, count.stored_booked) == (3, 0, 3)
