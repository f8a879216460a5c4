"""The API's request and response shapes, as pydantic models (also the OpenAPI schemas)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_text(value: Any) -> Any:
    """Accept a date only as the text YYYY-MM-DD, never a number or another spelling."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise ValueError("not written YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("not a real calendar date") from None


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]

# A day's bounds in the city's time zone, converted to UTC, must stay inside Python's calendar.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def _within_calendar(value: date) -> date:
    """Refuse a day so far off that its start and end cannot be computed."""
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(f"not between {EARLIEST_DAY} and {LATEST_DAY}")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_date_text), AfterValidator(_within_calendar)]

SLOT_ID_FORM = "a positive whole number, the `id` of a slot from GET /api/slots"
RESIDENT_NO_FORM = "the resident register number as text of 1 to 20 characters"
BIRTH_DATE_FORM = "the birth date as text YYYY-MM-DD, e.g. 1948-05-17"
DAY_FORM = "a calendar day in the city's time zone, written YYYY-MM-DD"
CAMPAIGN_FORM = "a campaign code, as in `campaign` of GET /api/slots"


class _Strict(BaseModel):
    """Unknown fields are refused on input and documented as absent on output."""

    model_config = ConfigDict(extra="forbid")


class _Query(BaseModel):
    """Query parameters: unknown ones (cache busters, tracking) are ignored."""

    model_config = ConfigDict(extra="ignore")


class BookingRequest(_Strict):
    """What the web front sends to book a place."""

    slot_id: StrictInt = Field(gt=0, description=SLOT_ID_FORM)
    resident_no: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)
    ] = Field(description=RESIDENT_NO_FORM)
    birth_date: IsoDate = Field(description=BIRTH_DATE_FORM)


class DayQuery(_Query):
    """The query of GET /api/slots: one day, optionally one campaign."""

    date: IsoDay = Field(description=DAY_FORM)
    campaign: str | None = Field(default=None, min_length=1, max_length=40,
                                 description=CAMPAIGN_FORM)


class CountsQuery(_Query):
    """The query of GET /api/counts: optionally one day and/or one campaign."""

    date: IsoDay | None = Field(default=None, description=DAY_FORM)
    campaign: str | None = Field(default=None, min_length=1, max_length=40,
                                 description=CAMPAIGN_FORM)


class SiteOut(_Strict):
    """Where an appointment happens."""

    code: str
    name: str


class SlotOut(_Strict):
    """A slot with its numbers counted from booking rows."""

    id: int
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

    id: int
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
        "unauthorized, api_token_not_configured, malformed_json, invalid_field, not_found, "
        "slot_full, already_booked, not_eligible, idempotency_conflict, method_not_allowed, "
        "internal_error"
    ))
    message: str
    field: str | None = Field(default=None, description="the offending field (invalid_field)")
    reference: str | None = Field(
        default=None, description="the resident's existing booking (already_booked)"
    )
    reason: str | None = Field(default=None, description="why not eligible (not_eligible)")


class ErrorResponse(_Strict):
    """Every error the API returns has this shape."""

    error: ErrorDetail
