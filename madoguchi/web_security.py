"""App-wide web security: CSRF protection of every cookie-authenticated POST, the cookie's flags.

Only the console's pages authenticate with the session cookie. The JSON API (a bearer token)
and the voice webhooks under /voice/ (Twilio's request signature, checked by
madoguchi.voice.signature) carry their own proof and no CSRF token, so they are exempt.
"""

from __future__ import annotations

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

VOICE_PATH_PREFIX = "/voice/"


class SignedWebhooksExemptCSRFProtect(CSRFProtect):
    """CSRF protection for every cookie-authenticated POST; Twilio's signed webhooks are exempt."""

    def protect(self, apply_exemptions: bool = False) -> None:
        """Check the token, except on the voice webhooks (they carry a Twilio signature)."""
        if apply_exemptions and request.path.startswith(VOICE_PATH_PREFIX):
            return
        super().protect(apply_exemptions=apply_exemptions)


csrf = SignedWebhooksExemptCSRFProtect()


def init_app(app: Flask) -> None:
    """Switch on CSRF protection (the API and the voice webhooks exempt) and the cookie policy."""
    from madoguchi import api

    settings = app.config["SETTINGS"]
    # Flask's own defaults (no SameSite, not Secure) are replaced, not merely defaulted.
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secrets.public_base_url.startswith("https://"),
    )
    csrf.init_app(app)
    csrf.exempt(api.bp)
