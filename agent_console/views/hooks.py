"""What every console request goes through: session limits, headers, error pages, helpers."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale, get_timezone
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from agent_console import formats
from agent_console.blueprint import bp
from agent_console.i18n import current_language, translate
from agent_console.security import (
    ABSOLUTE_SESSION_SECONDS,
    SECURITY_HEADERS,
    SOFTPHONE_CONTENT_SECURITY_POLICY,
    ended_session,
)
from agent_console.services import accounts
from madoguchi import inquiry_categories, phone
from madoguchi.db import get_session

# Why a session ended, as the console message that tells the operator.
ENDED_MESSAGES = {"idle": "session_expired", "absolute": "session_too_long"}


@bp.before_request
def refuse_nul_characters():
    """A NUL character in any query or form value: a 400 saying so, before any view reads it.

    No text column stores one (PostgreSQL's driver refuses it with an error), and no keyboard
    types one: it comes from a broken script or a probe.
    """
    if request.endpoint == "console.static":
        return None
    values = [*request.args.values(), *(request.form.values() if request.form else ())]
    if not any("\x00" in value for value in values):
        return None
    return render_template("console/message.html", title=translate("nul_refused_title"),
                           message=translate("nul_refused")), 400


@bp.before_request
def enforce_session_limits():
    """A session the server found past its idle or absolute limit: say so, then log in again.

    The server checks the session on every request (agent_console.security.load_user); one ended
    by logout, an admin, a password change or disabling simply counts as logged out.
    """
    if request.endpoint == "console.static" or current_user.is_authenticated:
        return None
    ended = ended_session()
    if "sid" not in session or ended is None:
        return None
    session.clear()
    if ended.ended_reason not in ENDED_MESSAGES:
        return None
    language = accounts.language_of(get_session(), ended.operator_id)
    flash(translate(ENDED_MESSAGES[ended.ended_reason], language,
                    hours=ABSOLUTE_SESSION_SECONDS // 3600), "info")
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("console.login", next=target, lang=language))


@bp.after_app_request
def add_security_headers(response):
    """CSP (our own scripts only), no framing, no sniffing, no referrer to other sites."""
    # App-wide so that a console address matching no route (a 404) carries them too.
    if not request.path.startswith(bp.url_prefix):
        return response
    if current_app.config["SETTINGS"].softphone_configured:
        response.headers.setdefault("Content-Security-Policy", SOFTPHONE_CONTENT_SECURITY_POLICY)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint == "console.static":
        response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.app_template_filter("masked")
def masked_phone(e164: str | None) -> str:
    """A phone number with all but the last four digits hidden."""
    return phone.mask(e164)


@bp.app_template_filter("national")
def national_phone(e164: str | None) -> str:
    """A phone number written the way residents say it."""
    if not e164:
        return ""
    try:
        return phone.national(e164)
    except Exception:  # a stored number phonenumbers cannot parse is still shown as stored
        return e164


@bp.app_template_filter("moment")
def moment_filter(value, seconds: bool = False) -> str:
    """A date and time in the request's language and the city's zone (empty for none)."""
    return "" if value is None else formats.moment(value, str(get_locale()), get_timezone(),
                                                   seconds=seconds)


@bp.app_template_filter("day")
def day_filter(value) -> str:
    """A calendar day in the request's language (empty for none)."""
    return "" if value is None else formats.day(value, str(get_locale()), get_timezone())


@bp.app_template_filter("clock")
def clock_filter(value, seconds: bool = False) -> str:
    """A time of day in the request's language and the city's zone (empty for none)."""
    return "" if value is None else formats.clock(value, str(get_locale()), get_timezone(),
                                                  seconds=seconds)


@bp.app_template_filter("number")
def number_filter(value) -> str:
    """A count with the request's language's digit grouping."""
    return formats.number(value, str(get_locale()))


@bp.context_processor
def console_helpers():
    """t() for messages, the language, and the user's role checks for every template."""
    language = current_language()
    config = current_app.config["SETTINGS"].inquiries

    def category_name(key: str) -> str:
        return inquiry_categories.name(config, key, language)

    return {"t": translate, "lang": language, "category_name": category_name,
            "category_choices": inquiry_categories.choices(config, language)}


@bp.errorhandler(403)
def forbidden(error):
    """A page in the user's language saying which role the page needs."""
    role = error.description if isinstance(error.description, str) else "admin"
    role_name = translate(f"role_{role}") if role in ("operator", "supervisor", "admin") else role
    return render_template("console/forbidden.html", role_name=role_name), 403


@bp.app_errorhandler(404)
def not_found(error):
    """Under /console, a plain not-found page inside the console frame (also for an address no
    route matches, such as an id past what a database column holds); elsewhere Flask's own."""
    if not request.path.startswith(bp.url_prefix + "/"):
        return error
    # No route matched, so the blueprint's context processor did not run: pass its helpers.
    return render_template("console/message.html", title=translate("not_found_title"),
                           message=translate("not_found"), **console_helpers()), 404


@bp.errorhandler(CSRFError)
def csrf_failed(_error):
    """A form without a valid token: say how to recover instead of a bare 400."""
    return render_template("console/message.html", title=translate("csrf_failed_title"),
                           message=translate("csrf_failed")), 400
