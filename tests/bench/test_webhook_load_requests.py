"""What the webhook bench sends is what callers send: its requests, checked against the app."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from bench.webhooks import inprocess
from tests.conftest import TEST_AUTH_TOKEN
from tests.ivr.conftest import BASE, statements_during


def test_a_menu_answer_whose_greeting_the_bench_did_not_send_asks_the_database_nothing(
        client, engine):
    # Over HTTP the menu answers can outrun the greeted calls; the rest carry the state a
    # greeting hands out, so they cost what a caller's menu answer costs (no lookup).
    form = inprocess.call_form("CA" + "7" * 32, Digits="1")
    path = inprocess.menu_path(as_greeted=True)
    sent = []
    statements = statements_during(engine, lambda: sent.append(inprocess.signed_post(
        client, RequestValidator(TEST_AUTH_TOKEN), BASE, path, form)))
    (answer,) = sent
    assert answer.status_code == 200
    assert "住民番号" in answer.get_data(as_text=True)  # "book": the resident number is asked
    assert statements == []
