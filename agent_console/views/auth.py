"""Logging in and out, the start page, and the operator's language."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from agent_console.blueprint import bp
from agent_console.forms import LanguageForm, LoginForm
from agent_console.i18n import LANGUAGES, translate
from agent_console.security import (
    client_ip,
    current_session_id,
    end_session,
    role_required,
    safe_next,
    start_session,
)
from agent_console.services import accounts, login_events, login_limit, logins
from madoguchi.db import get_session


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; after 5 attempts for an account (or 20 from an address), a pause."""
    if request.args.get("lang") in LANGUAGES:
        session["lang"] = request.args["lang"]
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status = 200
    if form.validate_on_submit():
        db, ip = get_session(), client_ip()
        result = logins.attempt(db, form.username.data, form.password.data, ip=ip,
                                secret=current_app.secret_key)
        if result.refused:
            flash(translate("login_rate_limited", minutes=login_limit.window_minutes()), "error")
            status = 429
        elif result.operator is None:
            flash(translate("login_failed"), "error")
            status = 401
        else:
            target = safe_next(form.next.data, url_for("console.home"))
            session_id = start_session(result.operator)
            login_events.logged_in(db, result.operator, ip, session_id)
            return redirect(target)
    elif request.method == "POST":
        flash(translate("form_invalid"), "error")
        status = 400
    return render_template("console/login.html", form=form), status


@bp.post("/logout")
def logout():
    """End the session on the server (a POST with a CSRF token: no other site logs anyone out)."""
    language = None
    if current_user.is_authenticated:
        language = current_user.language
        login_events.logged_out(get_session(), current_user.id, current_user.username,
                                client_ip(), current_session_id())
    end_session()
    if language:
        session["lang"] = language
    flash(translate("logged_out", language), "info")
    return redirect(url_for("console.login"))


@bp.get("/")
@role_required("operator")
def home():
    """The start page: the work screen, where an operator spends the day (first in the menu)."""
    return redirect(url_for("console.work"))


@bp.post("/language")
@role_required("operator")
def set_language():
    """Store the operator's console language and come back to the same page."""
    form = LanguageForm()
    if form.validate_on_submit():
        accounts.set_language(get_session(), current_user.id, form.language.data)
        flash(translate("language_saved", form.language.data), "info")
    back = safe_next(request.form.get("back"), url_for("console.home"))
    return redirect(back)
