"""Sending a resident a text message from the console (the form is console/_sms_form.html)."""

from __future__ import annotations

from flask import flash, redirect, request, url_for

from agent_console.blueprint import bp
from agent_console.forms import SmsForm
from agent_console.i18n import translate
from agent_console.security import role_required, safe_next
from agent_console.services import sms_desk
from agent_console.views.common import current_actor, settings
from madoguchi.db import get_session
from madoguchi.telephony import TelephonyError, get_telephony


@bp.context_processor
def sms_form_helpers():
    """sms_choices(resident) and the limits, so the form works on any page that includes it."""
    return {
        "sms_choices": lambda resident: sms_desk.choices(get_session(), resident.id),
        "sms_max_length": sms_desk.MAX_TEXT_LENGTH,
    }


@bp.post("/residents/<int:resident_id>/sms")
@role_required("operator")
def send_sms(resident_id: int):
    """Send a booking confirmation or a short note to the resident's mobile (audited)."""
    form = SmsForm()
    back = safe_next(request.form.get("back"),
                     url_for("console.resident", resident_id=resident_id))
    if not form.validate_on_submit():
        flash(translate("form_invalid"), "error")
        return redirect(back)
    try:
        sent = sms_desk.send(
            get_session(), current_actor(), settings(), get_telephony(),
            resident_id=resident_id, phone_id=form.phone_id.data, kind=form.kind.data,
            reference=form.reference.data, text=form.text.data,
        )
    except sms_desk.SmsRefused as exc:
        flash(translate(exc.key, **exc.values), "error")
    except TelephonyError as exc:
        flash(translate("sms_failed", reason=str(exc)), "error")
    else:
        flash(translate("sms_sent", number=sent.masked_to), "success")
    return redirect(back)
