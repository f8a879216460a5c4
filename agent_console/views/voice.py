"""The browser softphone's access token."""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user

from agent_console.blueprint import bp
from agent_console.i18n import translate
from agent_console.security import role_required
from agent_console.services import operator_reach, voice_token
from agent_console.views.common import settings
from madoguchi.db import get_session
from madoguchi.models import Operator


@bp.context_processor
def softphone_helpers():
    """What console/_softphone.html needs on any page: is it configured, how am I reached."""
    def my_reach() -> operator_reach.Reach:
        return operator_reach.current(get_session().get(Operator, current_user.id))

    return {"softphone_configured": settings().softphone_configured, "my_reach": my_reach}


@bp.get("/voice/token")
@role_required("operator")
def voice_token_json():
    """A fresh, short-lived token for this operator's softphone (JSON, never cached)."""
    try:
        minted = voice_token.mint(settings(), current_user.id)
    except voice_token.SoftphoneNotConfigured:
        response = jsonify(error="softphone_not_configured",
                           message=translate("softphone_not_configured"))
        response.status_code = 503
    else:
        response = jsonify(token=minted.token, identity=minted.identity,
                           expires_at=minted.expires_at)
    response.headers["Cache-Control"] = "no-store"
    return response
