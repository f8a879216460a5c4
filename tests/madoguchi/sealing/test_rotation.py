"""Rotation: every value re-sealed (or re-indexed) under the newest key while the line keeps
working, resumable after a crash, and counted per key."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select, text

from madoguchi import calls, residents, sealing
from madoguchi.models import Call, Resident
from madoguchi.sealing import Keyring, blind, rotation
from madoguchi.sealing.keyring import key_id_of
from madoguchi.sealing.keys import NamedKey
from tests import factories

PEOPLE = 60


@pytest.fixture
def rotated_keys(sealing_keys) -> Iterator[Keyring]:
    """The suite's keys with a new data key and a new index key put first (restored after)."""
    keyring = Keyring(
        (NamedKey("t2", secrets.token_bytes(32)), *sealing_keys._keys.data),
        (NamedKey("x2", secrets.token_bytes(32)), *sealing_keys._keys.index))
    try:
        yield keyring
    finally:
        sealing.install(sealing_keys)


@pytest.fixture
def register(committed_db, sealing_keys) -> dict[int, tuple[str, str, str]]:
    """PEOPLE residents with phones and a call each, all sealed under the suite's first keys."""
    sealing.install(sealing_keys)
    people = {}
    with committed_db() as session:
        for n in range(PEOPLE):
            number = f"+8190{10_000_000 + n:08d}"
            resident = factories.resident(session, resident_no=f"RT{n:05d}", name=f"回転 {n}号",
                                          name_kana=f"カイテン {n}", phone=number,
                                          birth_date=date(1940, 1, 1 + n % 28))
            calls.start_call(session, f"CA{n:032d}", from_raw=number, to_number="+81312345678")
            people[resident.id] = (resident.resident_no, resident.name, number)
        session.commit()
    return people


class Traffic(threading.Thread):
    """The line at work: reading every resident and adding calls, until stopped."""

    def __init__(self, factory, people) -> None:
        super().__init__(daemon=True)
        self.factory, self.people = factory, people
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.rounds = 0
        self.added: dict[str, str] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with self.factory() as session:
                    for resident in session.scalars(select(Resident)):
                        number, name, _ = self.people[resident.id]
                        if (resident.resident_no, resident.name) != (number, name):
                            self.errors.append(f"resident {resident.id} read wrong")
                    sid = f"CA{secrets.token_hex(16)}"
                    caller = f"+8180{10_000_000 + len(self.added):08d}"
                    calls.start_call(session, sid, from_raw=caller, to_number="+81312345678")
                    self.added[sid] = caller
                    probe = list(self.people.values())[self.rounds % PEOPLE]
                    if [r.resident_no for r in residents.by_phone(session, probe[2])] != [
                            probe[0]]:
                        self.errors.append(f"caller {probe[2][-4:]} not recognised")
                self.rounds += 1
            except Exception as exc:  # every failure is reported by the test
                self.errors.append(repr(exc))
            time.sleep(0.01)


def _under_load(committed_db, people, work) -> Traffic:
    traffic = Traffic(committed_db, people)
    traffic.start()
    try:
        time.sleep(0.2)
        work()
        time.sleep(0.2)
    finally:
        traffic.stop.set()
        traffic.join(timeout=30)
    return traffic


def test_rotating_the_data_key_under_load_leaves_every_value_readable(
        committed_db, engine, register, rotated_keys):
    sealing.install(rotated_keys)  # every process has the new key first, the old one after it
    before = rotation.key_status(engine, rotated_keys)
    assert before.data[0].count < before.data[1].count and before.data_pending > 0
    done = []
    traffic = _under_load(committed_db, register, lambda: done.append(rotation.reseal(
        engine, rotated_keys, batch_size=25)))
    assert not traffic.errors, traffic.errors[:5]
    assert traffic.rounds >= 3 and done[0] >= before.data_pending - len(traffic.added) * 2
    after = rotation.key_status(engine, rotated_keys)
    assert after.data_pending == 0 and after.data[1].count == 0
    with committed_db() as session:
        for resident in session.scalars(select(Resident)):
            assert (resident.resident_no, resident.name) == register[resident.id][:2]
        known = {call.call_sid: call.from_e164 for call in session.scalars(select(Call))}
        for sid, caller in traffic.added.items():
            assert known[sid] == caller
        tokens = session.execute(text("SELECT e164 FROM resident_phones")).scalars()
        assert {key_id_of(token) for token in tokens} == {"t2"}


def test_rotating_the_index_key_under_load_keeps_every_lookup_working(
        committed_db, engine, register, rotated_keys):
    sealing.install(rotated_keys)
    assert rotation.key_status(engine, rotated_keys).index_pending > 0
    traffic = _under_load(committed_db, register, lambda: rotation.rebuild_indexes(
        engine, rotated_keys, batch_size=20))
    assert not traffic.errors, traffic.errors[:5]
    status = rotation.key_status(engine, rotated_keys)
    assert status.index_pending == 0 and status.index[1].count == 0
    # With the old index key gone, everything is still found.
    newest_only = Keyring(rotated_keys._keys.data, rotated_keys._keys.index[:1])
    sealing.install(newest_only)
    with committed_db() as session:
        for resident_id, (number, name, phone) in list(register.items())[:10]:
            assert [r.id for r in residents.by_phone(session, phone)] == [resident_id]
            assert residents.by_resident_no(session, number).id == resident_id
            assert resident_id in {r.id for r in residents.search(session, name)[0]}
            assert session.scalar(select(Call.id).where(
                blind.matches(Call.from_digest, "phone", phone))) is not None


def test_a_rotation_stopped_half_way_continues_where_it_stopped(
        committed_db, engine, register, rotated_keys, monkeypatch):
    sealing.install(rotated_keys)
    pending = rotation.key_status(engine, rotated_keys).data_pending
    sealed = 0
    real_seal = Keyring.seal

    def crash_after_a_while(self, plaintext, context):
        nonlocal sealed
        sealed += 1
        if sealed > 70:
            raise RuntimeError("power cut")
        return real_seal(self, plaintext, context)

    monkeypatch.setattr(Keyring, "seal", crash_after_a_while)
    with pytest.raises(RuntimeError, match="power cut"):
        rotation.reseal(engine, rotated_keys, batch_size=20)
    monkeypatch.setattr(Keyring, "seal", real_seal)
    halfway = rotation.key_status(engine, rotated_keys)
    assert 0 < halfway.data_pending < pending, "whole batches were kept, the rest left"
    assert halfway.data[0].count >= 60
    assert rotation.reseal(engine, rotated_keys, batch_size=20) == halfway.data_pending
    assert rotation.key_status(engine, rotated_keys).data_pending == 0
    assert rotation.reseal(engine, rotated_keys) == 0, "a finished rotation has nothing to do"
