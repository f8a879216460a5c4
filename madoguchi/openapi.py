"""The OpenAPI 3.1 document of the JSON API, its schemas generated from the pydantic models."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from madoguchi.api_schemas import (
    IDEMPOTENCY_KEY_MAX,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_BODY_BYTES,
    REFERENCE_PATTERN,
    BookingOut,
    BookingRequest,
    CountsOut,
    CountsQuery,
    DayQuery,
    ErrorResponse,
    SlotOut,
)

REF = "#/components/schemas/{model}"

IDEMPOTENCY_TEXT = (
    "Optional. A key the client makes once per booking attempt (a UUID; at most "
    f"{IDEMPOTENCY_KEY_MAX} visible ASCII characters) "
    "and sends again on every retry of that attempt. A retry with the same key, slot and "
    "resident books nothing new: it answers the booking the first request made, with status "
    "200 instead of 201 (when two retries race, both may answer 201; the booking is still one). "
    "The same key with another slot or resident is refused with 409 idempotency_conflict."
)

UNKNOWN_CAMPAIGN = (
    "not_found (field campaign): no campaign has this code; a web front that keeps a code from "
    "an earlier GET /api/slots learns here that the campaign is gone"
)

ERROR_TEXTS = {
    "400": "malformed_json: the body is not a JSON object",
    "401": "unauthorized: the bearer token is missing or wrong (with WWW-Authenticate: Bearer)",
    "413": f"body_too_large: the body is over {MAX_BODY_BYTES} bytes; it is not parsed",
    "404": "not_found",
    "409": "a booking rule refused the request",
    "422": "invalid_field: a field or parameter is missing or has the wrong form",
    "500": "internal_error: the server failed; nothing was carried out",
    "503": "api_token_not_configured: the server has no MADOGUCHI_API_TOKEN",
}


def _schema_ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": _json_content(schema)}


def _errors(*statuses: str, **texts: str) -> dict[str, Any]:
    return {
        status: {
            "description": texts.get(f"e{status}", ERROR_TEXTS[status]),
            "content": _json_content(_schema_ref(ErrorResponse)),
        }
        for status in statuses
    }


def _query_parameter_schema(field: dict[str, Any]) -> dict[str, Any]:
    # A query string has no null: an optional parameter is simply left out.
    branches = [branch for branch in field.get("anyOf", []) if branch.get("type") != "null"]
    if len(branches) == 1:
        return branches[0]
    return {key: value for key, value in field.items() if key not in ("description", "default")}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": field.get("description", ""),
            "schema": _query_parameter_schema(field),
        }
        for name, field in schema["properties"].items()
    ]


def _components() -> dict[str, Any]:
    _, top = models_json_schema(
        [
            (BookingRequest, "validation"),
            (SlotOut, "serialization"),
            (BookingOut, "serialization"),
            (CountsOut, "serialization"),
            (ErrorResponse, "serialization"),
        ],
        ref_template=REF,
    )
    return top["$defs"]


@cache
def build_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (built once; it depends only on the code)."""
    reference_parameter = {
        "name": "reference", "in": "path", "required": True,
        "description": "the 7-digit booking reference",
        "schema": {"type": "string", "pattern": REFERENCE_PATTERN},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Madoguchi booking API",
            "version": "1.0.0",
            "description": (
                "The city's web booking front books in the same database as the phone line "
                "and the operators. Every number is counted from booking rows. Every error is "
                'JSON: {"error": {"code": ..., "message": ...}}; an unknown address is 404 '
                "not_found and a wrong method 405 method_not_allowed."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerToken": []}],
        "paths": {
            "/api/slots": {
                "get": {
                    "operationId": "listSlots",
                    "summary": "The slots of one day, with places booked and remaining",
                    "description": (
                        "The day is a calendar day in the city's time zone; start and end carry "
                        "the city's UTC offset. Only slots of open campaigns are listed, full "
                        "ones included (remaining 0)."
                    ),
                    "parameters": _query_parameters(DayQuery),
                    "responses": {
                        "200": _ok("the day's slots, soonest first",
                                   {"type": "array", "items": _schema_ref(SlotOut)}),
                        **_errors("401", "404", "422", "500", "503", e404=UNKNOWN_CAMPAIGN),
                    },
                }
            },
            "/api/bookings": {
                "post": {
                    "operationId": "createBooking",
                    "summary": "Book a place for a resident (register number and birth date)",
                    "parameters": [{
                        "name": "Idempotency-Key", "in": "header", "required": False,
                        "description": IDEMPOTENCY_TEXT,
                        "schema": {"type": "string", "minLength": 1,
                                   "maxLength": IDEMPOTENCY_KEY_MAX,
                                   "pattern": IDEMPOTENCY_KEY_PATTERN},
                    }],
                    "requestBody": {
                        "required": True, "content": _json_content(_schema_ref(BookingRequest)),
                    },
                    "responses": {
                        "201": _ok("booked", _schema_ref(BookingOut)),
                        "200": _ok("a retry with the same Idempotency-Key: the earlier booking",
                                   _schema_ref(BookingOut)),
                        **_errors(
                            "400", "401", "404", "409", "413", "422", "500", "503",
                            e404=(
                                "not_found: no resident matches the register number and birth "
                                "date (which one is wrong is not said), or no such slot"
                            ),
                            e409=(
                                "slot_full; already_booked (with the existing reference); "
                                "not_eligible (with a reason: campaign_closed, slot_started, age, "
                                "attended); idempotency_conflict"
                            ),
                        ),
                    },
                }
            },
            "/api/bookings/{reference}": {
                "delete": {
                    "operationId": "cancelBooking",
                    "summary": "Cancel a booking; cancelling it again is harmless",
                    "parameters": [reference_parameter],
                    "responses": {
                        "200": _ok("the cancelled booking, with its slot's new numbers",
                                   _schema_ref(BookingOut)),
                        **_errors(
                            "401", "404", "409", "500", "503",
                            e404=(
                                "not_found: no booking has this reference (a reference that is "
                                "not 7 digits names none)"
                            ),
                            e409="not_eligible: the booking was attended or missed",
                        ),
                    },
                }
            },
            "/api/counts": {
                "get": {
                    "operationId": "capacityLedger",
                    "summary": "The public capacity ledger, per slot and per day",
                    "description": (
                        "Capacity, booked, cancelled and remaining, counted from booking rows, "
                        "for one day and/or one campaign (all slots when neither is given)."
                    ),
                    "parameters": _query_parameters(CountsQuery),
                    "responses": {
                        "200": _ok("the ledger", _schema_ref(CountsOut)),
                        **_errors("401", "404", "422", "500", "503", e404=UNKNOWN_CAMPAIGN),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapiDocument",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": _ok("the OpenAPI 3.1 document", {"type": "object"})},
                }
            },
        },
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "bearerToken": {
                    "type": "http", "scheme": "bearer",
                    "description": "the city's API token (MADOGUCHI_API_TOKEN)",
                }
            },
        },
    }
