"""Property: every voice route, found in the app's URL map, survives any correctly signed form.

Whatever fields arrive (unicode, huge values, missing fields, a key repeated), a voice webhook
answers valid TwiML or an empty acknowledgement; never a 500 and never a traceback. Requests are
signed with the test auth token exactly as Twilio signs them (every value of a repeated field),
so the signature check stays on. MADOGUCHI_FUZZ_EXAMPLES chooses a deeper run (default 15 per
route).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.routing import Rule

from ivr.steps import STEPS
from tests.conftest import TEST_AUTH_TOKEN
from tests.ivr.conftest import BASE

EXAMPLES = int(os.environ.get("MADOGUCHI_FUZZ_EXAMPLES", "15"))
VOICE_PREFIX = "/voice/"

# Field names Twilio posts to voice webhooks, and the query arguments our own URLs carry.
TWILIO_FIELDS = ["CallSid", "From", "To", "Digits", "SpeechResult", "Confidence", "CallStatus",
                 "SequenceNumber", "CallDuration", "QueueTime", "QueueResult", "DialCallStatus",
                 "DialCallSid", "AnsweredBy", "RecordingUrl", "RecordingDuration", "ErrorCode",
                 "AccountSid", "Direction", "Caller", "Called"]
QUERY_ARGS = ["l", "a", "q", "g", "o", "p", "i", "m", "c", "k", "d", "attempt", "call",
              "reminder"]

# Text a form can carry: any code point except lone surrogates (not encodable in UTF-8).
unicode_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
huge_text = st.builds(lambda char, n: char * n, st.sampled_from(["9", "あ", "+", "\U0001f4de"]),
                      st.integers(min_value=1_000, max_value=50_000))
plausible = st.sampled_from(["", "1", "0", "#", "*", "+819012345678", "0312345678", "Anonymous",
                             "completed", "no-answer", "busy", "failed", "in-progress",
                             "human", "machine_start", "ja", "en", "-1", "99999999999",
                             "https://api.twilio.com/rec/RE1", "CA" + "7" * 32, "1.2.3"])
values = plausible | unicode_text | huge_text
field_names = st.sampled_from(TWILIO_FIELDS) | unicode_text.filter(bool)
# A list of pairs, so a key can come twice and any field can be missing.
forms = st.lists(st.tuples(field_names, values), max_size=8)
queries = st.lists(st.tuples(st.sampled_from(QUERY_ARGS) | unicode_text.filter(bool),
                             plausible | unicode_text), max_size=4)


def voice_rules(app) -> list[Rule]:
    """Every route under /voice, including ones added after this test was written."""
    return sorted((rule for rule in app.url_map.iter_rules()
                   if rule.rule.startswith(VOICE_PREFIX)), key=lambda rule: rule.rule)


def path_values(rule: Rule) -> st.SearchStrategy[dict[str, str]]:
    """Values for the variable parts of a route: real ones and nonsense."""
    known = {"step": [*STEPS], "lang": ["ja", "en"], "key": ["greeting", "menu"]}
    segment = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/"),
                      min_size=1, max_size=30)
    return st.fixed_dictionaries({
        name: st.sampled_from(known.get(name, ["x"])) | segment for name in rule.arguments
    })


def url_of(app, rule: Rule, values: dict[str, str], query: list[tuple[str, str]]) -> str:
    """The public URL Twilio would call, with the query string encoded the way Twilio keeps it."""
    with app.test_request_context():
        path = app.url_for(rule.endpoint, **values)
    return f"{BASE}{path}" + (f"?{urlencode(query)}" if query else "")


def assert_answer_is_safe(response, where: str) -> None:
    """Valid TwiML or an empty acknowledgement; never a server error or a traceback."""
    body = response.get_data(as_text=True)
    assert response.status_code < 500, f"{where}: {response.status_code}"
    assert "Traceback" not in body and 'File "' not in body, where
    if response.status_code == 204:
        assert body == "", where
    elif response.status_code == 200 and response.mimetype == "text/xml":
        root = ET.fromstring(body)  # noqa: S314 (our own app's answer)
        assert root.tag == "Response", where


def fuzz_signed_posts(client, app, rule: Rule) -> None:
    """Throw signed forms at one POST route; each must be accepted and answered safely."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(values=path_values(rule), form=forms, query=queries)
    def check(values, form, query):
        url = url_of(app, rule, values, query)
        data = MultiDict(form)
        signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(url, data)
        response = client.post(url.removeprefix(BASE), data=data,
                               headers={"X-Twilio-Signature": signature})
        assert response.status_code != 403, f"{rule.rule}: a correct signature was refused"
        assert_answer_is_safe(response, rule.rule)
        if "GET" not in rule.methods:
            assert response.status_code in (200, 204), rule.rule

    check()


def fuzz_gets(client, app, rule: Rule) -> None:
    """Ask a GET route for anything; it answers without a server error."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(values=path_values(rule), query=queries)
    def check(values, query):
        url = url_of(app, rule, values, query)
        assert_answer_is_safe(client.get(url.removeprefix(BASE)), rule.rule)

    check()


def test_the_url_map_has_the_voice_webhooks_and_status_callbacks(app):
    routes = {rule.rule for rule in voice_rules(app)}
    assert {"/voice/incoming", "/voice/status", "/voice/callback/status"} <= routes


def test_every_voice_route_answers_any_signed_form_with_twiml_and_never_a_500(
    app, client, city, faq
):
    for rule in voice_rules(app):
        if "POST" in rule.methods:
            fuzz_signed_posts(client, app, rule)
        else:
            fuzz_gets(client, app, rule)


def test_a_repeated_field_signed_as_twilio_signs_it_is_accepted(client, db_session):
    url = f"{BASE}/voice/incoming"
    data = MultiDict([("CallSid", "CA" + "8" * 32), ("From", "+819012345678"),
                      ("Digits", "1"), ("Digits", "2")])
    signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(url, data)
    response = client.post("/voice/incoming", data=data,
                           headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200


def test_a_signature_over_only_the_first_of_repeated_values_is_refused(client, db_session):
    url = f"{BASE}/voice/incoming"
    data = MultiDict([("CallSid", "CA" + "8" * 32), ("Digits", "1"), ("Digits", "2")])
    signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(url, data.to_dict())
    response = client.post("/voice/incoming", data=data,
                           headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
