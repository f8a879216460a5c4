"""Property: whatever Twilio (or anyone holding the token) posts, the line answers valid TwiML
built from Twilio's verbs, and never ends the call unless the caller had finished."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.steps import FINISHING_STEPS, STEPS
from prompts import load_voices
from tests.ivr.conftest import BASE, sign

# Verbs and the nouns/SSML they may contain, as documented in Twilio's TwiML reference.
ALLOWED_CHILDREN = {
    "Response": {"Say", "Play", "Pause", "Gather", "Redirect", "Dial", "Record", "Hangup",
                 "Enqueue", "Leave"},
    "Gather": {"Say", "Play", "Pause"},
    "Say": {"prosody", "break", "say-as", "p", "s", "emphasis", "lang", "phoneme", "sub", "w"},
    "prosody": {"break", "say-as", "emphasis", "lang", "phoneme", "sub", "w"},
    "Dial": {"Number", "Client", "Queue", "Sip", "Conference"},
}
ENDS_WITHOUT_GOING_ON = {"Redirect", "Hangup", "Dial", "Record", "Enqueue", "Leave"}

keys = st.text(alphabet="0123456789*#", max_size=12)
anything = st.text(max_size=30)
speech = st.sampled_from(["", "予約", "係の人", "はい", "いいえ", "English", "1", "もう一度",
                          "ほかの日", "終わり", "blah"]) | anything
callers = st.sampled_from(["+819012345678", "+266696687", "Anonymous", "", "0312345678",
                           "Restricted"]) | anything
forms = st.fixed_dictionaries(
    {},
    optional={
        "Digits": keys | anything,
        "SpeechResult": speech,
        "Confidence": st.sampled_from(["0.1", "0.9", "x"]),
        "From": callers,
        "CallSid": st.sampled_from(["CA" + "5" * 32, "CA" + "6" * 32, ""]) | anything,
        "DialCallStatus": st.sampled_from(["completed", "no-answer", "busy", "failed"]),
        "RecordingUrl": st.sampled_from(["", "https://api.twilio.com/rec/RE9"]) | anything,
        "RecordingDuration": st.sampled_from(["0", "15", "-1", "x"]),
        "ErrorCode": st.sampled_from(["11200", "12100"]),
    },
)
queries = st.fixed_dictionaries(
    {},
    optional={
        "l": st.sampled_from(["ja", "en", "xx", ""]),
        "a": st.sampled_from(["0", "1", "2", "3", "99", "-1", "x"]),
        "q": st.sampled_from(["1", "0"]),
        "g": st.sampled_from(["book", "check", "x"]),
        "o": st.sampled_from(["1.2.3", "999999", "x.y", ""]),
        "p": st.sampled_from(["1", "999999", "x"]),
        "i": st.sampled_from(["1", "2", "999999", "x"]),
        "m": st.sampled_from(["1"]),
        "c": st.sampled_from(["1"]),
        "k": anything,
    },
)
endpoints = st.sampled_from(["/voice/incoming", "/voice/fallback"]) | st.sampled_from(
    [f"/voice/step/{step}" for step in [*STEPS, "nonsense"]]
)

VOICES = {(v.voice, v.language) for v in load_voices().values()}


def check_element(element: ET.Element) -> None:
    allowed = ALLOWED_CHILDREN.get(element.tag, set())
    for child in element:
        assert child.tag in allowed, f"<{child.tag}> inside <{element.tag}>"
        check_element(child)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(endpoint=endpoints, form=forms, query=queries)
def test_any_input_on_any_voice_endpoint_gets_valid_twiml_that_keeps_the_call(
    client, city, faq, endpoint, form, query
):
    url = f"{BASE}{endpoint}" + (f"?{urlencode(query)}" if query else "")
    response = client.post(url.removeprefix(BASE), data=form,
                           headers={"X-Twilio-Signature": sign(url, form)})
    assert response.status_code == 200
    root = ET.fromstring(response.get_data(as_text=True))  # noqa: S314 (our own app)
    assert root.tag == "Response"
    check_element(root)
    verbs = [child.tag for child in root]
    assert verbs, "an empty document ends the call"
    assert verbs[-1] in ENDS_WITHOUT_GOING_ON, f"the call would end after {verbs[-1]}"
    for gather in root.iter("Gather"):
        assert gather.get("action", "").startswith(BASE + "/voice/")
        assert gather.get("actionOnEmptyResult") == "true"
        assert gather.get("input") == "dtmf speech"
        assert 8 <= int(gather.get("timeout")) <= 10
    for say in root.iter("Say"):
        assert (say.get("voice"), say.get("language")) in VOICES
    if "Hangup" in verbs:
        step = endpoint.rsplit("/", 1)[-1]
        assert step in FINISHING_STEPS or endpoint.startswith("/voice/fallback"), (
            f"{endpoint} hung up on the caller"
        )
