"""App-wide web security: CSRF on cookie-authenticated POSTs, the cookie's flags, HSTS."""

from __future__ import annotations

import pytest
from flask import Flask

from madoguchi import api, web_security


def bare_app(settings) -> Flask:
    """An app with nothing but the core's web security, a form and a webhook-like address."""
    app = Flask(__name__)
    app.config.update(SETTINGS=settings, SECRET_KEY="test", TESTING=True, WTF_CSRF_ENABLED=True)
    web_security.init_app(app)
    api.init_app(app)
    app.add_url_rule("/form", "form", lambda: "sent", methods=["POST"])
    app.add_url_rule("/voice/hook", "hook", lambda: "heard", methods=["POST"])
    return app


def test_a_cookie_authenticated_post_without_its_token_is_refused(settings):
    response = bare_app(settings).test_client().post("/form", data={"x": "1"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_voice_webhooks_and_the_json_api_need_no_csrf_token(settings):
    client = bare_app(settings).test_client()
    assert client.post("/voice/hook", data={"CallSid": "CA1"}).get_data(as_text=True) == "heard"
    refused = client.post("/api/bookings", json={})
    # The API's own check answers (no bearer token), not the CSRF check.
    assert refused.status_code in (401, 503) and refused.is_json
    assert "CSRF" not in refused.get_data(as_text=True)


@pytest.mark.parametrize(("base_url", "secure"), [
    ("https://madoguchi.example.jp", True), ("http://127.0.0.1:8000", False)])
def test_the_session_cookie_is_httponly_lax_and_secure_when_served_over_https(
        settings, base_url, secure):
    served = settings.model_copy(update={
        "secrets": settings.secrets.model_copy(update={"public_base_url": base_url})})
    config = bare_app(served).config
    assert (config["SESSION_COOKIE_HTTPONLY"], config["SESSION_COOKIE_SAMESITE"]) == (True, "Lax")
    assert config["SESSION_COOKIE_SECURE"] is secure


@pytest.mark.parametrize(("base_url", "hsts"), [
    ("https://madoguchi.example.jp", True), ("http://127.0.0.1:8000", False)])
def test_hsts_is_sent_exactly_when_the_public_address_is_https(settings, base_url, hsts):
    served = settings.model_copy(update={
        "secrets": settings.secrets.model_copy(update={"public_base_url": base_url})})
    response = bare_app(served).test_client().post("/voice/hook", data={"CallSid": "CA1"})
    header = response.headers.get("Strict-Transport-Security")
    assert (header is not None) is hsts
    if hsts:
        assert "max-age=31536000" in header


def test_a_voice_webhook_gets_no_session_while_a_page_keeps_its_cookie(settings):
    from flask import session

    app = bare_app(settings)

    def remember() -> str:
        session["seen"] = True
        return "kept"

    app.add_url_rule("/page", "page", remember, methods=["POST"])
    app.add_url_rule("/voice/remember", "voice_remember", remember, methods=["POST"])
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    page = client.post("/page")
    assert page.get_data(as_text=True) == "kept" and "session=" in page.headers["Set-Cookie"]
    # Twilio sends no cookie and a call's state travels in its URLs: nothing to open or save,
    # and a webhook that tried to keep something in a session fails loudly instead.
    with pytest.raises(RuntimeError):
        client.post("/voice/remember")
    heard = client.post("/voice/hook", data={"CallSid": "CA1"})
    assert heard.get_data(as_text=True) == "heard" and "Set-Cookie" not in heard.headers
