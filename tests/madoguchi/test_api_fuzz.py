"""The JSON API fuzzed from its own OpenAPI document: the document and the behaviour agree.

Schemathesis reads the document the app serves at /api/openapi.json, so a new operation or field
is fuzzed as soon as it is documented. Both kinds of case are sent, in the examples, coverage and
fuzzing phases: positive ones (valid by the document) must be accepted or answered with a
documented "names nothing" 404 or a booking rule's 409, never 400/422; negative ones (invalid by
the document) must be refused with a 4xx. No 500s either way. MADOGUCHI_FUZZ_EXAMPLES chooses a
deeper run.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from madoguchi.openapi import build_document
from tests.conftest import TEST_API_TOKEN
from tests.ivr.conftest import city  # noqa: F401 (a campaign with open slots and a resident)

EXAMPLES = int(os.environ.get("MADOGUCHI_FUZZ_EXAMPLES", "30"))

# Schemathesis's own default statuses for refused invalid data, plus 413: a body over the
# documented 64 KB limit is refused before it is parsed, which is a refusal too.
NEGATIVE_REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                     "428", "429", "5xx"]

CONFIG = SchemathesisConfig.from_dict({
    # The token through the document's own security scheme, so a case that leaves it out on
    # purpose is sent without it (and must get 401) instead of having it put back.
    "auth": {"openapi": {"bearerToken": {"bearer": TEST_API_TOKEN}}},
    "generation": {"mode": "all"},
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
    },
    "checks": {"negative_data_rejection": {"expected-statuses": NEGATIVE_REFUSALS}},
})
schema = schemathesis.openapi.from_dict(build_document(), config=CONFIG)


def test_the_fuzzed_document_is_the_one_the_app_serves(client):
    assert client.get("/api/openapi.json").get_json() == build_document()


def test_the_fuzz_sends_valid_and_invalid_requests_in_every_phase():
    assert schema.config.generation.modes == [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    phases = schema.config.phases
    assert phases.examples.enabled and phases.coverage.enabled and phases.fuzzing.enabled


def _slot_id_spelt_as_a_float(case) -> bool:
    """A valid case whose slot_id is a whole number written with a fraction, like 135.0."""
    return (
        case.meta is not None
        and case.meta.generation.mode.is_positive
        and isinstance(case.body, dict)
        and isinstance(case.body.get("slot_id"), float)
    )


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_api_operation_answers_within_its_schema_and_never_a_500(
    case, app, db_session, city  # noqa: F811
):
    # Requests go to this test's app in-process, on the rolled-back session.
    case.operation.schema.app = app
    if _slot_id_spelt_as_a_float(case):
        # The one thing JSON Schema cannot say: under 2020-12, 135.0 *is* an integer, so the
        # fuzzer counts it valid. The API takes only the literal 135 (what every JSON encoder
        # writes for a whole number) and its document says so in slot_id's description; here
        # that refusal is asserted instead of acceptance, and every other check still runs.
        response = case.call(app=app)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "slot_id"
        case.validate_response(response,
                               excluded_checks=[schemathesis.checks.positive_data_acceptance])
        return
    response = case.call_and_validate(app=app)
    if case.meta is not None and case.meta.generation.mode.is_positive:
        # Otherwise every valid case would be answered 401 and the checks would prove nothing.
        assert response.status_code != 401, "the fuzz did not send the API token"


def test_a_day_outside_the_calendar_is_refused_naming_the_field(client):
    headers = {"Authorization": f"Bearer {TEST_API_TOKEN}"}
    for url in ("/api/slots?date=0001-01-01", "/api/counts?date=9999-12-31",
                "/api/slots?date=1899-12-31", "/api/counts?date=2200-01-01"):
        response = client.get(url, headers=headers)
        assert response.status_code == 422, url
        assert response.get_json()["error"]["field"] == "date"
