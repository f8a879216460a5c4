"""Twilio's request signature, checked against the public URL Twilio called."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from urllib.parse import quote

from flask import Request, abort, current_app, request
from twilio.request_validator import RequestValidator, compare

log = logging.getLogger(__name__)

# Characters a URL path keeps unencoded (the set Werkzeug leaves alone when building URLs).
URL_PATH_SAFE = "/!$&'()*+,:;=@"


def public_url(req: Request, base_url: str) -> str:
    """The URL as Twilio saw it: PUBLIC_BASE_URL + path + query string."""
    query = req.query_string.decode("latin-1")
    # The path as it travelled (percent-encoded), not as Flask decoded it.
    path = quote(req.path, safe=URL_PATH_SAFE)
    return f"{base_url.rstrip('/')}{path}" + (f"?{query}" if query else "")


def is_signed(req: Request, base_url: str, auth_token: str) -> bool:
    """True when X-Twilio-Signature matches the URL and the POSTed form."""
    signature = req.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(auth_token)
    url = public_url(req, base_url)
    # The whole multi-valued form: Twilio signs every value of a repeated field. The URL
    # exactly as called is what Twilio signed: one HMAC. validate() re-assembles the URL with
    # urlparse (dropping an empty ";" parameter) and tries it with and without the port, two
    # HMACs more, for a request that came through a proxy rewriting the port.
    if compare(validator.compute_signature(url, req.form), signature):
        return True
    return validator.validate(url, req.form, signature)


def twilio_signed(view: Callable) -> Callable:
    """Refuse (403) a request without a valid Twilio signature, before anything is recorded."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        settings = current_app.config["SETTINGS"]
        if not is_signed(request, settings.secrets.public_base_url,
                         settings.secrets.twilio_auth_token):
            log.warning("refused a voice webhook with a missing or wrong signature: %s",
                        request.path)
            abort(403)
        return view(*args, **kwargs)

    return checked
