"""How calls reach an operator: their own settings page, and an admin setting it for them."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from agent_console.blueprint import bp
from agent_console.forms import ActionForm, OperatorSettingsForm, PasswordChangeForm
from agent_console.i18n import translate
from agent_console.security import (
    client_ip,
    current_session_id,
    refresh_login,
    role_required,
)
from agent_console.services import accounts, login_events, operator_reach
from agent_console.views.common import current_actor, settings
from madoguchi import phone
from madoguchi.db import get_session
from madoguchi.models import Operator


@bp.route("/me", methods=["GET", "POST"])
@role_required("operator")
def my_settings():
    """Show and save the operator's language and reach choice (a bad number is said plainly)."""
    session = get_session()
    operator = session.get(Operator, current_user.id)
    form = OperatorSettingsForm()
    status = 200
    if form.validate_on_submit():
        try:
            reach = operator_reach.save(session, operator.id, form.reach_by.data,
                                        form.phone.data, region=settings().city.region)
        except operator_reach.ReachError as exc:
            session.rollback()
            flash(translate(exc.key, **exc.values), "error")
            status = 400
        else:
            accounts.set_language(session, operator.id, form.language.data)
            accounts.set_large_text(session, operator.id, form.large_text.data)
            current_actor().audit(session, "update", "operator", operator.id, detail={
                "reach_by": reach.reach_by, "phone": phone.mask(reach.phone_e164)
                if reach.phone_e164 else None, "language": form.language.data,
                "large_text": bool(form.large_text.data)})
            flash(translate("my_settings_saved", form.language.data), "success")
            return redirect(url_for("console.my_settings"))
    elif form.is_submitted():
        flash(translate("form_invalid"), "error")
        status = 400
    else:
        saved = operator_reach.current(operator)
        form.language.data = operator.language
        form.large_text.data = operator.large_text
        form.reach_by.data = saved.reach_by
        form.phone.data = saved.phone_national
    return render_template("console/my_settings.html", form=form,
                           password_form=PasswordChangeForm(),
                           reach=operator_reach.current(operator),
                           softphone=settings().softphone_configured,
                           uses_twilio=settings().uses_twilio), status


@bp.post("/me/password")
@role_required("operator")
def change_password():
    """The user's own new password; their logins elsewhere end, this one goes on."""
    session = get_session()
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        flash(translate("form_invalid"), "error")
        return redirect(url_for("console.my_settings"))
    try:
        ended = accounts.change_own_password(
            session, current_user.id, current=form.current_password.data,
            new=form.new_password.data, repeated=form.repeat_password.data,
            keep_session_id=current_session_id())
    except accounts.AccountError as exc:
        flash(translate(exc.key, **exc.values), "error")
        return redirect(url_for("console.my_settings"))
    refresh_login(session.get(Operator, current_user.id))
    login_events.password_changed(session, actor_id=current_user.id,
                                  actor_name=current_user.username, ip=client_ip(),
                                  operator_id=current_user.id, sessions_ended=ended)
    flash(translate("password_changed"), "success")
    return redirect(url_for("console.my_settings"))


@bp.post("/admin/users/<int:operator_id>/reach")
@role_required("admin")
def user_reach(operator_id: int):
    """An admin sets how calls reach a user (for someone who cannot do it themselves)."""
    session = get_session()
    if not ActionForm().validate_on_submit():
        flash(translate("form_invalid"), "error")
        return redirect(url_for("console.users"))
    try:
        reach = operator_reach.save(session, operator_id, request.form.get("reach_by", ""),
                                    request.form.get("phone"), region=settings().city.region)
    except operator_reach.ReachError as exc:
        session.rollback()
        flash(translate(exc.key, **exc.values), "error")
    else:
        current_actor().audit(session, "update", "operator", operator_id, detail={
            "reach_by": reach.reach_by,
            "phone": phone.mask(reach.phone_e164) if reach.phone_e164 else None})
        username = session.get(Operator, operator_id).username
        flash(translate("user_reach_saved", username=username), "success")
    return redirect(url_for("console.users"))
