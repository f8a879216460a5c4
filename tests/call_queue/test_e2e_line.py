"""A whole hold-then-callback journey through the simulator, a real server and a real worker.

The caller and the callback go over HTTP to the app served in its own process; the callback
job runs in a real `madoguchi worker` process; database and Redis are the shared test ones.
"""

from __future__ import annotations

from sqlalchemy import select

from call_queue import line_services, operator_states
from madoguchi.models import CallbackRequest, utcnow
from madoguchi.sealing import blind
from madoguchi.telephony.clock import VirtualClock
from madoguchi.telephony.engine import CallEngine, CallSetup
from madoguchi.telephony.network import SimulatedNetwork
from tests import factories
from tests.conftest import TEST_AUTH_TOKEN
from tests.madoguchi.telephony.journeys import answer_callback, hold_then_callback, play
from tests.madoguchi.telephony.live_server import live_server  # noqa: F401 (the fixture)
from tests.madoguchi.test_cli import run_worker_burst

CITY_NUMBER = "+81312345678"
MOBILE = "+819012345678"


def test_a_holder_hears_its_place_asks_for_a_callback_and_is_called_back_when_an_operator_frees(
        live_server, app, committed_db, redis_client):  # noqa: F811 (the fixture)
    with committed_db() as session:
        operator_id = factories.operator(session).id
        session.commit()
    session = committed_db()
    with app.app_context():
        operator_states.set_state(session, line_services.board(), operator_id, "on_call", utcnow())
    network = SimulatedNetwork(redis_client)
    engine = CallEngine(TEST_AUTH_TOKEN, clock=VirtualClock(), network=network)
    setup = CallSetup(url=live_server.url("/voice/incoming"), from_number=MOBILE,
                      to_number=CITY_NUMBER, status_callback=live_server.url("/voice/status"))
    play(engine, setup, hold_then_callback())
    request = session.scalar(select(CallbackRequest).where(
        blind.matches(CallbackRequest.phone_digest, "phone", MOBILE)))
    session.commit()
    assert request is not None and request.status == "waiting"

    with app.app_context():
        assigned = line_services.operator_available(session, operator_id)
    assert [(a.party.kind, a.party.id) for a in assigned] == [("callback", request.id)]
    completed = run_worker_burst(live_server.env)
    assert completed.returncode == 0, completed.stderr
    [ringing] = network.ringing_calls()
    assert ringing.to_number == MOBILE
    answer_callback(engine, ringing)
    session.expire_all()
    assert session.get(CallbackRequest, request.id).status == "reached"
    session.close()
