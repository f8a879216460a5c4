"""An operator who chose "on a phone number" in the console is dialled on that number."""

from __future__ import annotations

from flask import g
from sqlalchemy import select
from sqlalchemy.orm import close_all_sessions

from agent_console.services import accounts
from call_queue import callback_jobs, line_services
from madoguchi.models import CallbackAttempt
from tests.agent_console.conftest import PASSWORD, login, post
from tests.call_queue.conftest import callback_request, post_signed


def _as_a_new_request() -> None:
    """Forget what the last request left in the test's app context (token cache, session)."""
    g.pop("csrf_token", None)
    g.pop("db_session", None)
    close_all_sessions()


def test_the_callback_bridge_dials_the_number_the_operator_saved_in_my_settings(
        line_ctx, network, webhooks):
    session = line_ctx
    operator = accounts.create_operator(session, username="tanaka", display_name="田中",
                                        password=PASSWORD, role="operator")
    assert login(webhooks, "tanaka").status_code == 302
    _as_a_new_request()
    saved = post(webhooks, "/console/me", {"language": "ja", "reach_by": "phone",
                                           "phone": "03-5555-0000"}, form_page="/console/me")
    assert saved.status_code == 302
    _as_a_new_request()
    request = callback_request(session, minutes=4, number="+819011112222")
    line_services.operator_available(session, operator.id)
    callback_jobs.place_callback(request.id, 1)
    attempt = session.scalars(select(CallbackAttempt).where(
        CallbackAttempt.request_id == request.id)).one()
    session.commit()
    body = post_signed(webhooks, f"/voice/callback/answer?attempt={attempt.id}",
                       CallSid=attempt.call_sid, AnsweredBy="human").get_data(as_text=True)
    assert "<Number>+81355550000</Number>" in body
    assert f"operator-{operator.id}" not in body
