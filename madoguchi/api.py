"""JSON API for the city's web booking front: slots, bookings, cancellations, public counts.

Views only parse, call `madoguchi.booking` and serialise; the booking rules live there. Every
answer under /api/ is JSON, errors included: `{"error": {"code": ..., "message": ...}}`.
A POST /api/bookings repeated with the same Idempotency-Key books nothing new and answers the
first booking with 200 instead of 201 (see the OpenAPI document at /api/openapi.json).
The blueprint is exposed as `bp` so the app's CSRF protection (madoguchi.web_security) can exempt
it: the API authenticates with a bearer token, not a session cookie.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from werkzeug.exceptions import HTTPException

from madoguchi import booking, ledger, residents
from madoguchi.api_schemas import (
    IDEMPOTENCY_KEY_MAX,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_BODY_BYTES,
    REFERENCE_PATTERN,
    BookingOut,
    BookingRequest,
    CountsOut,
    CountsQuery,
    DayLedger,
    DayQuery,
    ErrorDetail,
    ErrorResponse,
    LedgerNumbers,
    SiteOut,
    SlotLedger,
    SlotOut,
)
from madoguchi.db import get_session
from madoguchi.models import Booking, Campaign, Slot, utcnow
from madoguchi.openapi import build_document

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")

API_CHANNEL = "api"
# Keys from the web front are namespaced so they never collide with another channel's keys;
# prefix and key together fit the bookings.idempotency_key column (100 characters).
IDEMPOTENCY_PREFIX = "api:"
assert len(IDEMPOTENCY_PREFIX) + IDEMPOTENCY_KEY_MAX <= 100
IDEMPOTENCY_KEY_FORM = re.compile(IDEMPOTENCY_KEY_PATTERN)
BOOKING_REFERENCE_FORM = re.compile(REFERENCE_PATTERN)
PUBLIC_ENDPOINTS = {"api.openapi_document"}
# The ledger's numbers the API publishes, per slot and per day.
PUBLISHED_COUNTS = tuple(LedgerNumbers.model_fields)

# HTTP status of each booking error code; every other booking error is a 409 conflict.
BOOKING_ERROR_STATUS = {"not_found": 404}
HTTP_ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """A request the API refuses, with its HTTP status and error code."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(status: int, code: str, message: str, **extra: Any) -> tuple[Response, int]:
    """The JSON error body every failure uses."""
    body = ErrorResponse(error=ErrorDetail(code=code, message=message, **extra))
    return jsonify(body.model_dump(mode="json", exclude_none=True)), status


def _json(model: BaseModel | list[BaseModel], status: int = 200) -> tuple[Response, int]:
    if isinstance(model, list):
        return jsonify([item.model_dump(mode="json") for item in model]), status
    return jsonify(model.model_dump(mode="json")), status


# --- parsing ---------------------------------------------------------------------------------


def _field_error(error: ValidationError, model: type[BaseModel]) -> ApiError:
    """Turn pydantic's first complaint into an invalid_field error naming field and form."""
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "(body)"
    known = model.model_fields.get(str(first["loc"][0])) if first["loc"] else None
    expected = f"; expected {known.description}" if known and known.description else ""
    if first["type"] == "missing":
        message = f"{field} is missing{expected}"
    elif first["type"] == "extra_forbidden":
        message = f"{field} is not a known field; send only {', '.join(model.model_fields)}"
    else:
        problem = first["msg"].removeprefix("Value error, ")
        message = f"{field} is invalid: {problem}{expected}"
    return ApiError(422, "invalid_field", message, field=field)


def _refuse_nul_characters(data: dict[str, Any]) -> None:
    """422 for a text value holding a NUL character (no database column can store one)."""
    for name, value in data.items():
        if isinstance(value, str) and "\x00" in value:
            raise ApiError(422, "invalid_field",
                           f"{name} contains a NUL character (\\u0000); remove it", field=name)


def _body_too_large(size: int) -> ApiError:
    return ApiError(413, "body_too_large",
                    f"the request body is {size} bytes; at most {MAX_BODY_BYTES} are read")


def parse_body(model: type[M]) -> M:
    """The JSON body as `model`; 400 malformed_json or 422 invalid_field otherwise."""
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        # Refused on its declared length, before a byte of it is read.
        raise _body_too_large(declared)
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise _body_too_large(len(raw))
    if raw.lstrip()[:1] != b"{":
        # Not an object, whatever else it is: refused before parsing, so no array nested a
        # hundred thousand deep ever reaches the (recursive) JSON parser.
        raise ApiError(
            400, "malformed_json",
            f"the request body must be a JSON object with {', '.join(model.model_fields)}",
        )
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ApiError(400, "malformed_json",
                       "the request body nests too deeply; send a flat JSON object") from None
    except (ValueError, UnicodeDecodeError) as exc:
        where = f" ({exc.msg} at position {exc.pos})" if hasattr(exc, "pos") else ""
        raise ApiError(
            400, "malformed_json", f"the request body is not valid JSON{where}; send a JSON object"
        ) from None
    if not isinstance(data, dict):
        raise ApiError(
            400, "malformed_json",
            f"the request body must be a JSON object with {', '.join(model.model_fields)}",
        )
    _refuse_nul_characters(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _field_error(exc, model) from None


def parse_query(model: type[M]) -> M:
    """The query string as `model`; 422 invalid_field when a parameter is wrong or missing."""
    args = request.args.to_dict()
    _refuse_nul_characters(args)
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        raise _field_error(exc, model) from None


def idempotency_key() -> str | None:
    """The Idempotency-Key header as stored on the booking, or None when absent."""
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    if len(value) > IDEMPOTENCY_KEY_MAX or not IDEMPOTENCY_KEY_FORM.fullmatch(value):
        raise ApiError(
            422, "invalid_field",
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters "
            "(spaces only inside), e.g. a UUID made once per booking attempt",
            field="Idempotency-Key",
        )
    return IDEMPOTENCY_PREFIX + value


def booking_reference(raw: str) -> str:
    """The path's booking reference; 404 not_found when it cannot be one (never looked up)."""
    if not BOOKING_REFERENCE_FORM.fullmatch(raw):
        raise ApiError(404, "not_found",
                       "no booking has this reference; a booking reference is 7 digits")
    return raw


def _campaign_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    campaign_id = session.scalar(select(Campaign.id).where(Campaign.code == code))
    if campaign_id is None:
        # Well formed but naming nothing: like a slot id of no slot, 404 rather than 422.
        raise ApiError(
            404, "not_found",
            f"campaign: no campaign has the code {code!r}; use a `campaign` from GET /api/slots",
            field="campaign",
        )
    return campaign_id


# --- serialising -----------------------------------------------------------------------------


def _city_tz() -> ZoneInfo:
    return current_app.config["SETTINGS"].tz


def _slots_by_id(session: Session, ids: Iterable[int]) -> dict[int, Slot]:
    query = (
        select(Slot)
        .options(joinedload(Slot.site), joinedload(Slot.campaign))
        .where(Slot.id.in_(list(ids)))
    )
    return {slot.id: slot for slot in session.scalars(query)}


def _slot_fields(slot: Slot, tz: ZoneInfo) -> dict[str, Any]:
    start = slot.starts_at.astimezone(tz)
    return {
        "id": slot.id,
        "campaign": slot.campaign.code,
        "start": start,
        "end": start + timedelta(minutes=slot.length_minutes),
        "site": SiteOut(code=slot.site.code, name=slot.site.name),
    }


def slot_out(slot: Slot, count: booking.SlotCount, tz: ZoneInfo) -> SlotOut:
    """A slot with its numbers from booking rows."""
    return SlotOut(
        **_slot_fields(slot, tz), capacity=count.capacity, booked=count.booked,
        remaining=count.remaining,
    )


def booking_out(session: Session, made: Booking) -> BookingOut:
    """A booking with its slot's current numbers."""
    (count,) = booking.slot_counts(session, slot_ids=[made.slot_id])
    slot = _slots_by_id(session, [made.slot_id])[made.slot_id]
    return BookingOut(
        reference=made.reference, status=made.status, slot=slot_out(slot, count, _city_tz())
    )


def ledger_out(counted: ledger.Ledger, slots: dict[int, Slot],
               tz: ZoneInfo) -> tuple[list[DayLedger], list[SlotLedger]]:
    """The ledger's lines per day and per slot as the API publishes them."""
    day_lines = [
        DayLedger(date=day.day, slots=day.totals.slots,
                  **{name: day.totals.counts[name] for name in PUBLISHED_COUNTS})
        for day in counted.days
    ]
    slot_lines = [
        SlotLedger(**_slot_fields(slots[line.slot_id], tz),
                   **{name: getattr(line, name) for name in PUBLISHED_COUNTS})
        for line in counted.lines
    ]
    return day_lines, slot_lines


# --- authentication and errors ---------------------------------------------------------------


@bp.before_request
def require_api_token():
    """Let through only requests bearing the configured API token."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    expected = current_app.config["SETTINGS"].secrets.api_token
    if not expected:
        return error_response(
            503, "api_token_not_configured",
            "the API is switched off: set MADOGUCHI_API_TOKEN in the server's environment",
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        response, status = error_response(
            401, "unauthorized",
            "send the header 'Authorization: Bearer <token>' with the city's API token",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="madoguchi"'
        return response, status
    return None


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


@bp.errorhandler(booking.BookingError)
def _booking_error(exc: booking.BookingError):
    extra: dict[str, Any] = {}
    if isinstance(exc, booking.AlreadyBooked) and exc.existing is not None:
        extra["reference"] = exc.existing.reference
    if isinstance(exc, booking.NotEligible) and "reason" in exc.details:
        extra["reason"] = str(exc.details["reason"])
    return error_response(BOOKING_ERROR_STATUS.get(exc.code, 409), exc.code, exc.message, **extra)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    allowed = getattr(exc, "valid_methods", None) or ()
    return _http_error_response(exc.code or 500, exc.description or exc.name, allowed)


@bp.errorhandler(Exception)
def _unexpected_error(exc: Exception):
    log.exception("API request failed: %s %s", request.method, request.path)
    get_session().rollback()
    return error_response(
        500, "internal_error", "the server failed to answer; the request was not carried out"
    )


def _http_error_response(
    status: int, description: str, allowed: Iterable[str] = ()
) -> tuple[Response, int]:
    code = HTTP_ERROR_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    if status == 404:
        description = "no such API address; see GET /api/openapi.json for the list"
    elif status == 405:
        methods = ", ".join(sorted(set(allowed) - {"HEAD", "OPTIONS"})) or "see the Allow header"
        description = f"{request.method} is not allowed here; use {methods}"
    return error_response(status, code, description)


@bp.after_app_request
def _json_errors_under_api(response: Response) -> Response:
    """Answer JSON for /api/ errors raised before a view runs (unknown address, wrong method)."""
    if (
        request.path.startswith(bp.url_prefix + "/") or request.path == bp.url_prefix
    ) and response.status_code >= 400 and not response.is_json:
        replacement, _ = _http_error_response(
            response.status_code, response.status, response.allow
        )
        response.set_data(replacement.get_data())
        response.mimetype = "application/json"
    return response


# --- views -----------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 description of this API (no token needed)."""
    return jsonify(build_document())


@bp.get("/slots")
def list_slots():
    """The slots of one day in the city's time zone, with places booked and remaining."""
    query = parse_query(DayQuery)
    session = get_session()
    campaign_id = _campaign_id(session, query.campaign)
    tz = _city_tz()
    start, end = booking.day_bounds(query.date, tz)
    counts = booking.slot_counts(session, campaign_id=campaign_id, start=start, end=end)
    slots = _slots_by_id(session, (count.slot_id for count in counts))
    return _json([
        slot_out(slots[count.slot_id], count, tz)
        for count in counts
        if slots[count.slot_id].campaign.active
    ])


@bp.post("/bookings")
def create_booking():
    """Book a place for an identified resident: 201 new, 200 when an Idempotency-Key repeats."""
    body = parse_body(BookingRequest)
    key = idempotency_key()
    session = get_session()
    resident = residents.identify(session, body.resident_no, body.birth_date)
    if resident is None:
        # Never say which of the two was wrong: that would help guess register numbers.
        raise ApiError(
            404, "not_found",
            "no resident matches this register number and birth date; check both",
        )
    now = utcnow()
    made = booking.book(
        session, slot_id=body.slot_id, resident_id=resident.id, channel=API_CHANNEL,
        idempotency_key=key, now=now,
    )
    return _json(booking_out(session, made), 201 if made.created_at == now else 200)


@bp.delete("/bookings/<reference>")
def cancel_booking(reference: str):
    """Cancel a booking by reference; cancelling again answers the same cancelled booking."""
    reference = booking_reference(reference)
    session = get_session()
    cancelled = booking.cancel(session, reference, reason="cancelled via the web booking front")
    return _json(booking_out(session, cancelled))


@bp.get("/counts")
def counts():
    """The public capacity ledger, per slot and per day, counted from booking rows."""
    query = parse_query(CountsQuery)
    session = get_session()
    tz = _city_tz()
    counted = ledger.count(session, tz, campaign_id=_campaign_id(session, query.campaign),
                           first_day=query.date, last_day=query.date)
    days, slots = ledger_out(
        counted, _slots_by_id(session, (line.slot_id for line in counted.lines)), tz)
    return _json(CountsOut(date=query.date, campaign=query.campaign, days=days, slots=slots))


def init_app(app: Flask) -> None:
    """Register the API under /api."""
    app.register_blueprint(bp)
