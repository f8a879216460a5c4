"""The simulator's ledger forgets full numbers and what callers said once the call is over."""

from __future__ import annotations

from madoguchi.telephony.network import (
    ENDED_TTL_SECONDS,
    LIVE_TTL_SECONDS,
    PREFIX,
    SimulatedCall,
    SimulatedNetwork,
    new_sid,
)


def test_a_call_s_record_and_transcript_live_generously_then_expire_soon_after_it_ends(
        redis_client):
    network = SimulatedNetwork(redis_client)
    call = SimulatedCall(new_sid("CA"), "inbound", "+819076543210", "+81312345678",
                         status="in-progress")
    network.save_call(call)
    network.say_to_operator(call.sid, "須賀です。09076543210です")
    record, transcript = f"{PREFIX}call:{call.sid}", f"{PREFIX}transcript:{call.sid}"
    for key in (record, transcript):
        assert ENDED_TTL_SECONDS < redis_client.ttl(key) <= LIVE_TTL_SECONDS
    network.set_status(call.sid, "completed")
    for key in (record, transcript):
        assert 0 < redis_client.ttl(key) <= ENDED_TTL_SECONDS, key
    network.say_to_operator(call.sid, "late words")
    assert 0 < redis_client.ttl(transcript) <= ENDED_TTL_SECONDS


def test_text_messages_carried_by_the_simulator_expire_too(redis_client):
    network = SimulatedNetwork(redis_client)
    network.deliver_sms("+81312345678", "+819076543210", "須賀様 書類をお持ちください")
    assert 0 < redis_client.ttl(f"{PREFIX}sms") <= ENDED_TTL_SECONDS
    assert [sms.body for sms in network.messages("+819076543210")] == [
        "須賀様 書類をお持ちください"]


def test_no_key_of_the_simulator_lives_for_ever(redis_client):
    network = SimulatedNetwork(redis_client)
    call = SimulatedCall(new_sid("CA"), "outbound-api", "+81312345678", "+819076543210")
    network.ring(call)
    network.say_to_operator(call.sid, "もしもし")
    network.deliver_sms("+81312345678", "+819076543210", "本文")
    holding_numbers = [key for key in redis_client.scan_iter(f"{PREFIX}*")
                       if key.decode().split(":")[2] in ("call", "transcript", "sms")]
    assert holding_numbers and all(redis_client.ttl(key) > 0 for key in holding_numbers)
