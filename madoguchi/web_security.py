"""App-wide web security: CSRF protection of every cookie-authenticated POST, the cookie's flags,
and HSTS when the public address is https.

Only the console's pages authenticate with the session cookie. The JSON API (a bearer token)
and the voice webhooks under /voice/ (Twilio's request signature, checked by
madoguchi.voice.signature) carry their own proof and no CSRF token, so they are exempt.
"""

from __future__ import annotations

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

VOICE_PATH_PREFIX = "/voice/"
# A year, subdomains included: once a browser has seen the city's https address, it never
# sends a session cookie over plain http to it again.
HSTS = "max-age=31536000; includeSubDomains"


class SignedWebhooksExemptCSRFProtect(CSRFProtect):
    """CSRF protection for every cookie-authenticated POST; Twilio's signed webhooks are exempt."""

    def protect(self, apply_exemptions: bool = False) -> None:
        """Check the token, except on the voice webhooks (they carry a Twilio signature)."""
        if apply_exemptions and request.path.startswith(VOICE_PATH_PREFIX):
            return
        super().protect(apply_exemptions=apply_exemptions)


csrf = SignedWebhooksExemptCSRFProtect()


class NoSessionForWebhooks(SecureCookieSessionInterface):
    """The console's signed-cookie session; none for the voice webhooks.

    Twilio sends no cookie and a call's state travels in its URLs, so a webhook gets Flask's
    null session: nothing is opened or saved, and writing to it fails loudly.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """None (the null session) under /voice/, else the cookie's session."""
        if request.path.startswith(VOICE_PATH_PREFIX):
            return None
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Switch on CSRF protection (the API and the voice webhooks exempt) and the cookie policy."""
    from madoguchi import api

    settings = app.config["SETTINGS"]
    https = settings.secrets.public_base_url.startswith("https://")
    # Flask's own defaults (no SameSite, not Secure) are replaced, not merely defaulted.
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
    )
    app.session_interface = NoSessionForWebhooks()
    csrf.init_app(app)
    csrf.exempt(api.bp)
    if https:
        app.after_request(_strict_transport_security)


def _strict_transport_security(response: Response) -> Response:
    response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
