"""Admin pages: console users (create, disable, enable) and the read-only audit log."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from agent_console.blueprint import bp
from agent_console.forms import ActionForm, UserCreateForm
from agent_console.i18n import translate
from agent_console.security import role_required
from agent_console.services import accounts, audit_log
from agent_console.views.common import current_actor, parse_int
from madoguchi.db import get_session


@bp.route("/admin/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    """The list of users and the form to create one."""
    session = get_session()
    form = UserCreateForm()
    status = 200
    if form.validate_on_submit():
        try:
            created = accounts.create_operator(
                session, username=form.username.data, display_name=form.display_name.data,
                password=form.password.data, role=form.role.data, language=form.language.data,
            )
        except accounts.AccountError as exc:
            flash(translate(exc.key, **exc.values), "error")
            status = 400
        else:
            current_actor().audit(session, "create", "operator", created.id,
                                  detail={"username": created.username, "role": created.role})
            flash(translate("user_created", username=created.username), "success")
            return redirect(url_for("console.users"))
    elif request.method == "POST":
        flash(translate("form_invalid"), "error")
        status = 400
    return render_template("console/users.html", form=form, action_form=ActionForm(),
                           operators=accounts.all_operators(session)), status


@bp.post("/admin/users/<int:operator_id>/active")
@role_required("admin")
def user_active(operator_id: int):
    """Disable or enable a user (their open sessions end at their next click)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    session = get_session()
    active = request.form.get("active") == "1"
    try:
        changed = accounts.set_active(session, operator_id, active, acting_id=current_user.id)
    except accounts.AccountError as exc:
        flash(translate(exc.key, **exc.values), "error")
    else:
        current_actor().audit(session, "enable" if active else "disable", "operator", changed.id)
        key = "user_enabled" if active else "user_disabled"
        flash(translate(key, username=changed.username), "success")
    return redirect(url_for("console.users"))


@bp.get("/admin/audit")
@role_required("admin")
def audit():
    """The audit log, newest first, a page at a time; optionally one resident's rows."""
    entries = audit_log.page(get_session(), before_id=parse_int(request.args.get("before")),
                             resident_id=parse_int(request.args.get("resident")))
    return render_template("console/audit.html", entries=entries,
                           page_size=audit_log.PAGE_SIZE)
