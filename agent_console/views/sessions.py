"""Admin pages for console sessions: who is logged in where, ending a session, a new password."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from agent_console.blueprint import bp
from agent_console.forms import ActionForm, PasswordSetForm
from agent_console.i18n import translate
from agent_console.security import client_ip, current_session_id, role_required
from agent_console.services import accounts, console_sessions, login_events
from agent_console.views.common import settings
from madoguchi.db import get_session
from madoguchi.models import Operator, utcnow


@bp.get("/admin/users/<int:operator_id>/sessions")
@role_required("admin")
def user_sessions(operator_id: int):
    """A user's open sessions (where from, since when, last seen), each with an End button."""
    db = get_session()
    operator = db.get(Operator, operator_id)
    if operator is None:
        abort(404)
    return render_template("console/sessions.html", operator=operator,
                           sessions=console_sessions.open_sessions(db, operator_id),
                           this_session=current_session_id(), tz=settings().tz,
                           action_form=ActionForm(), password_form=PasswordSetForm())


@bp.post("/admin/sessions/<int:session_id>/end")
@role_required("admin")
def end_user_session(session_id: int):
    """End one session on the server; its browser is sent to the login page at its next click."""
    if not ActionForm().validate_on_submit():
        abort(400)
    if session_id == current_session_id():
        flash(translate("session_end_own"), "error")
        return redirect(url_for("console.users"))
    db = get_session()
    ended = console_sessions.end_by_id(db, session_id, "admin", utcnow())
    if ended is None:
        flash(translate("session_not_open"), "error")
        return redirect(url_for("console.users"))
    login_events.session_ended(db, admin_id=current_user.id, admin_name=current_user.username,
                               ip=client_ip(), session_id=session_id,
                               owner_id=ended.operator_id)
    flash(translate("session_ended"), "success")
    return redirect(url_for("console.user_sessions", operator_id=ended.operator_id))


@bp.post("/admin/users/<int:operator_id>/password")
@role_required("admin")
def user_password(operator_id: int):
    """An admin sets a new password for a user; every session of that user ends."""
    db = get_session()
    form = PasswordSetForm()
    if not form.validate_on_submit():
        flash(translate("form_invalid"), "error")
        return redirect(url_for("console.user_sessions", operator_id=operator_id))
    try:
        ended = accounts.set_password(db, operator_id, new=form.new_password.data,
                                      repeated=form.repeat_password.data)
    except accounts.AccountError as exc:
        flash(translate(exc.key, **exc.values), "error")
        return redirect(url_for("console.user_sessions", operator_id=operator_id))
    login_events.password_changed(db, actor_id=current_user.id, actor_name=current_user.username,
                                  ip=client_ip(), operator_id=operator_id, sessions_ended=ended)
    username = db.get(Operator, operator_id).username
    flash(translate("password_set_for", username=username), "success")
    return redirect(url_for("console.user_sessions", operator_id=operator_id))
