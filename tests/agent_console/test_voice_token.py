"""The browser softphone's access token: who it names, what it allows, how long it lives."""

from __future__ import annotations

import time

import jwt
import pytest
from sqlalchemy.orm import sessionmaker

from agent_console.services import voice_token
from agent_console.tones import SOUNDS_DIR, tones
from madoguchi import create_app
from madoguchi.models import Operator
from madoguchi.settings import load_settings
from tests.agent_console.conftest import login
from tests.conftest import app_on_test_engine

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
API_KEY_SID = "SK" + "fedcba9876543210" * 2
API_KEY_SECRET = "TestApiKeySecret0123456789abcdef"
TWIML_APP_SID = "AP" + "00112233445566778899aabbccddeeff"
SOFTPHONE_ENV = {
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_PHONE_NUMBER": "+81312345678",
    "TWILIO_API_KEY_SID": API_KEY_SID,
    "TWILIO_API_KEY_SECRET": API_KEY_SECRET,
    "TWILIO_TWIML_APP_SID": TWIML_APP_SID,
}


@pytest.fixture
def softphone_settings(base_env):
    """Settings of a city whose operators take calls in the browser."""
    return load_settings(env={**base_env, **SOFTPHONE_ENV})


@pytest.fixture
def softphone_app(softphone_settings, engine):
    """The app with Twilio and the softphone configured, on the shared test engine."""
    return app_on_test_engine(softphone_settings, engine)


@pytest.fixture
def phone_client(softphone_app, db_session, staff):
    """The operator logged in on the softphone app (rolled-back session)."""
    # The same rolled-back connection as db_session, so the staff rows are seen.
    softphone_app.extensions["madoguchi_db"].session_factory = sessionmaker(
        bind=db_session.get_bind(), join_transaction_mode="create_savepoint",
        expire_on_commit=False)
    client = softphone_app.test_client()
    assert login(client, staff.operator.username).status_code == 302
    return client


def _decode(token: str) -> dict:
    return jwt.decode(token, API_KEY_SECRET, algorithms=["HS256"])


def test_the_token_names_the_operator_as_the_line_dials_them_and_lets_calls_in(
        phone_client, staff):
    response = phone_client.get("/console/voice/token")
    assert response.status_code == 200
    body = response.get_json()
    claims = _decode(body["token"])
    assert body["identity"] == claims["grants"]["identity"] == f"operator-{staff.operator.id}"
    assert claims["grants"]["voice"]["incoming"] == {"allow": True}
    assert claims["grants"]["voice"]["outgoing"]["application_sid"] == TWIML_APP_SID
    assert claims["iss"] == API_KEY_SID and claims["sub"] == ACCOUNT_SID


def test_the_token_is_short_lived_and_never_cached(phone_client):
    before = int(time.time())
    response = phone_client.get("/console/voice/token")
    claims = _decode(response.get_json()["token"])
    assert response.headers["Cache-Control"] == "no-store"
    assert claims["exp"] - claims["nbf"] == voice_token.TOKEN_TTL_SECONDS <= 3600
    assert before <= claims["nbf"] <= int(time.time())
    assert response.get_json()["expires_at"] == claims["exp"]


def test_a_token_does_not_verify_with_any_other_secret(phone_client):
    token = phone_client.get("/console/voice/token").get_json()["token"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "AnotherSecret0123456789abcdefghi", algorithms=["HS256"])


def test_nobody_logged_out_gets_a_token(softphone_app, db_session):
    response = softphone_app.test_client().get("/console/voice/token")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_without_the_softphone_settings_the_token_is_refused_in_the_users_language(
        client, staff):
    login(client, staff.operator.username)
    response = client.get("/console/voice/token")
    assert response.status_code == 503
    assert response.get_json()["error"] == "softphone_not_configured"
    assert "ブラウザ電話は設定されていません" in response.get_json()["message"]
    client.post("/console/logout", data={})
    login(client, staff.admin.username)  # the admin works in English
    assert "not configured" in client.get("/console/voice/token").get_json()["message"]


def test_console_pages_may_reach_twilio_only_when_the_softphone_is_configured(
        phone_client, client, staff):
    with_phone = phone_client.get("/console/me").headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://*.twilio.com https://*.twilio.com" in with_phone
    assert "script-src 'self';" in with_phone
    login(client, staff.operator.username)
    plain = client.get("/console/me").headers["Content-Security-Policy"]
    assert "twilio" not in plain


def test_the_settings_page_carries_the_softphone_with_the_vendored_sdk_and_no_inline_script(
        phone_client):
    page = phone_client.get("/console/me").get_data(as_text=True)
    assert 'id="softphone"' in page and 'data-token-url="/console/voice/token"' in page
    assert "/console/static/vendor/twilio-voice/twilio.min.js" in page
    assert "<script>" not in page and "onclick" not in page


def test_the_committed_ring_tones_are_the_ones_the_tone_module_makes():
    for name, data in tones().items():
        assert (SOUNDS_DIR / name).read_bytes() == data, f"{name}: python -m agent_console.tones"


def test_on_the_work_screen_an_operator_reached_by_phone_is_told_which_number_rings(
        phone_client, db_session, staff):
    operator = db_session.get(Operator, staff.operator.id)
    operator.reach_by, operator.phone_e164 = "phone", "+81355550000"
    db_session.commit()
    page = phone_client.get("/console/work").get_data(as_text=True)
    assert "現在:電話は 03-5555-0000 にかかります。" in page
    assert "twilio.min.js" not in page


def test_with_twilio_but_no_softphone_settings_the_work_screen_says_so_without_loading_the_sdk(
        base_env, engine, db_session, staff):
    settings = load_settings(env={**base_env, **{
        name: SOFTPHONE_ENV[name] for name in ("TWILIO_ACCOUNT_SID", "TWILIO_PHONE_NUMBER")}})
    app = create_app(settings, overrides={"TESTING": True, "WTF_CSRF_ENABLED": True})
    app.extensions["madoguchi_db"].session_factory = sessionmaker(
        bind=db_session.get_bind(), join_transaction_mode="create_savepoint",
        expire_on_commit=False)
    client = app.test_client()
    login(client, staff.operator.username)
    page = client.get("/console/work").get_data(as_text=True)
    assert "ブラウザ電話は設定されていません" in page and "twilio.min.js" not in page
