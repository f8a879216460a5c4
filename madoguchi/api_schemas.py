"""The API's request and response shapes, as pydantic models (also the OpenAPI schemas)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)

from madoguchi.query_values import FIRST_DAY, LAST_DAY, MAX_ID

# Every day the API reads, birth dates included, lies between FIRST_DAY (1900-01-01) and LAST_DAY
# (2199-12-31), written in ASCII digits. The pattern is what the OpenAPI document shows; the
# validator below says which part was wrong.
DAY_PATTERN = r"^(19|2[01])[0-9]{2}-[0-9]{2}-[0-9]{2}$"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day_text(value: Any) -> Any:
    """Accept a day only as the text YYYY-MM-DD between FIRST_DAY and LAST_DAY."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("not written YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a real calendar date") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"not between {FIRST_DAY} and {LAST_DAY}")
    return day


IsoDay = Annotated[
    date,
    BeforeValidator(_iso_day_text),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN}),
]

# A database id: the range of an INTEGER primary key on PostgreSQL.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

# Register numbers are imported as digits and ASCII letters only (madoguchi.resident_import).
RESIDENT_NO_PATTERN = r"^[0-9A-Za-z]+$"
# Campaign codes are free text; only NUL, which no database column stores, is never one.
CAMPAIGN_PATTERN = r"^[^\x00]+$"
CampaignCode = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=CAMPAIGN_PATTERN)
]

# A booking request is a few hundred bytes; a body far larger is not one (413, not read).
MAX_BODY_BYTES = 64 * 1024
# A booking reference as madoguchi.codes makes it: seven ASCII digits.
REFERENCE_PATTERN = r"^[0-9]{7}$"
# An Idempotency-Key: visible ASCII, spaces only inside (a UUID is the usual choice).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]*[!-~])?$"
IDEMPOTENCY_KEY_MAX = 96

SLOT_ID_FORM = (
    f"a whole number from 1 to {MAX_ID} written as a JSON integer (135, not 135.0 or \"135\"), "
    "the `id` of a slot from GET /api/slots"
)
RESIDENT_NO_FORM = "the resident register number as text: 1 to 20 digits or ASCII letters"
BIRTH_DATE_FORM = "the birth date as text YYYY-MM-DD, e.g. 1948-05-17"
DAY_FORM = "a calendar day in the city's time zone, written YYYY-MM-DD"
CAMPAIGN_FORM = (
    "a campaign code, as in `campaign` of GET /api/slots; a code naming no campaign is 404"
)


class _Strict(BaseModel):
    """Unknown fields are refused on input and documented as absent on output."""

    model_config = ConfigDict(extra="forbid")


class _Query(BaseModel):
    """Query parameters: unknown ones (cache busters, tracking) are ignored."""

    model_config = ConfigDict(extra="ignore")


class BookingRequest(_Strict):
    """What the web front sends to book a place."""

    # Strict: 135.0 and "135" are refused, though JSON Schema would count 135.0 an integer.
    slot_id: StrictInt = Field(ge=1, le=MAX_ID, description=SLOT_ID_FORM)
    resident_no: Annotated[
        str, StringConstraints(min_length=1, max_length=20, pattern=RESIDENT_NO_PATTERN)
    ] = Field(description=RESIDENT_NO_FORM)
    birth_date: IsoDay = Field(description=BIRTH_DATE_FORM)


class DayQuery(_Query):
    """The query of GET /api/slots: one day, optionally one campaign."""

    date: IsoDay = Field(description=DAY_FORM)
    campaign: CampaignCode | None = Field(default=None, description=CAMPAIGN_FORM)


class CountsQuery(_Query):
    """The query of GET /api/counts: optionally one day and/or one campaign."""

    date: IsoDay | None = Field(default=None, description=DAY_FORM)
    campaign: CampaignCode | None = Field(default=None, description=CAMPAIGN_FORM)


class SiteOut(_Strict):
    """Where an appointment happens."""

    code: str
    name: str


class SlotOut(_Strict):
    """A slot with its numbers counted from booking rows."""

    id: Id
    campaign: str = Field(description="the code of the slot's campaign")
    start: datetime = Field(description="ISO 8601 with the city's UTC offset")
    end: datetime = Field(description="ISO 8601 with the city's UTC offset")
    site: SiteOut
    capacity: int
    booked: int = Field(description="places taken (held or confirmed or used), from rows")
    remaining: int = Field(description="places still free, from rows")


class BookingOut(_Strict):
    """A booking as the web front shows it to the resident."""

    reference: str = Field(description="7-digit reference code with a check digit")
    status: str = Field(description="held, confirmed, cancelled, expired, attended or no_show")
    slot: SlotOut


class LedgerNumbers(_Strict):
    """Capacity and how it is used, counted from booking rows."""

    capacity: int
    booked: int
    cancelled: int
    remaining: int
    beyond_capacity: int = Field(
        description="of the booked, how many a supervisor accepted beyond the places, "
                    "each with a recorded reason (booked may then exceed capacity)")


class SlotLedger(LedgerNumbers):
    """One slot's line in the public capacity ledger."""

    id: Id
    campaign: str
    start: datetime
    end: datetime
    site: SiteOut


class DayLedger(LedgerNumbers):
    """One day's totals (calendar day in the city's time zone)."""

    date: date
    slots: int = Field(description="how many slots the day has")


class CountsOut(_Strict):
    """The public capacity ledger: per slot and per day, all from booking rows."""

    date: date | None
    campaign: str | None
    days: list[DayLedger]
    slots: list[SlotLedger]


class ErrorDetail(_Strict):
    """What went wrong, for programs (`code`) and for people (`message`)."""

    code: str = Field(description=(
        "unauthorized, api_token_not_configured, malformed_json, body_too_large, invalid_field, "
        "not_found, "
        "slot_full, already_booked, not_eligible, idempotency_conflict, method_not_allowed, "
        "internal_error"
    ))
    message: str
    field: str | None = Field(
        default=None,
        description="the offending field (invalid_field; not_found for an unknown campaign)",
    )
    reference: str | None = Field(
        default=None, description="the resident's existing booking (already_booked)"
    )
    reason: str | None = Field(default=None, description="why not eligible (not_eligible)")


class ErrorResponse(_Strict):
    """Every error the API returns has this shape."""

    error: ErrorDetail
