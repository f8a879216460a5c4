"""Sealed values: authenticated, bound to their column, carrying their key's id; digests keyed."""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from sqlalchemy import select, text

from madoguchi.models import Call, Resident
from madoguchi.sealing import Keyring
from madoguchi.sealing.columns import SealedComparison
from madoguchi.sealing.keyring import BrokenSeal, NotSealed, UnknownKey, key_id_of
from madoguchi.sealing.keys import KeyFiles, NamedKey, parse_keys
from tests import factories

CONTEXT = "calls.from_e164"


def _ring(*data_ids: str, index_ids: tuple[str, ...] = ("i1",), same_as: Keyring | None = None
          ) -> Keyring:
    keys = {key.id: key for key in same_as._keys.data} if same_as else {}
    data = tuple(keys.get(i) or NamedKey(i, secrets.token_bytes(32)) for i in data_ids)
    index = tuple(NamedKey(i, b"i" * 32) for i in index_ids)
    return Keyring(data, index)


def test_a_sealed_value_opens_to_itself_and_names_its_key_but_nothing_else():
    ring = _ring("k1")
    first = ring.seal(b"+819012345678", CONTEXT)
    second = ring.seal(b"+819012345678", CONTEXT)
    assert first != second, "a fresh nonce each time: equal values do not look equal"
    assert key_id_of(first) == "k1" and first.startswith("s1:k1:")
    assert "9012345678" not in first
    assert ring.open(first, CONTEXT) == b"+819012345678"


def test_a_value_moved_to_another_column_does_not_open():
    ring = _ring("k1")
    sealed = ring.seal(b"+819012345678", CONTEXT)
    with pytest.raises(BrokenSeal):
        ring.open(sealed, "residents.name")


def test_an_altered_value_fails_loudly_instead_of_opening_to_garbage():
    ring = _ring("k1")
    sealed = ring.seal(b"Yamada", CONTEXT)
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(BrokenSeal, match="does not open"):
        ring.open(flipped, CONTEXT)


def test_a_wrong_key_under_the_same_id_and_an_unknown_id_are_told_apart():
    ring = _ring("k1")
    sealed = ring.seal(b"Yamada", CONTEXT)
    with pytest.raises(BrokenSeal, match="'k1' does not open"):
        _ring("k1").open(sealed, CONTEXT)
    with pytest.raises(UnknownKey, match="'k1', which is not in MADOGUCHI_DATA_KEYS"):
        _ring("k2").open(sealed, CONTEXT)
    with pytest.raises(NotSealed):
        ring.open("Yamada", CONTEXT)


def test_after_a_new_key_is_put_first_old_values_still_open_and_new_ones_use_it():
    old = _ring("k1")
    sealed_before = old.seal(b"before", CONTEXT)
    rotated = _ring("k2", "k1", same_as=old)
    assert rotated.open(sealed_before, CONTEXT) == b"before"
    assert key_id_of(rotated.seal(b"after", CONTEXT)) == "k2"


def test_digests_are_equal_for_equal_values_and_differ_by_kind_and_by_key():
    ring = _ring("k1", index_ids=("i2", "i1"))
    assert ring.digest("phone", "+819012345678") == ring.digest("phone", "+819012345678")
    assert ring.digest("phone", "5678") != ring.digest("last4", "5678")
    assert ring.digest("phone", "+819012345678").startswith("i2:")
    lookups = ring.lookup_digests("phone", "+819012345678")
    assert [d.split(":")[0] for d in lookups] == ["i2", "i1"]
    other = Keyring(ring._keys.data, (NamedKey("i2", b"x" * 32),))
    assert other.digest("phone", "+819012345678") != ring.digest("phone", "+819012345678")


def test_a_keyring_from_files_sees_a_key_another_process_added(tmp_path):
    files = KeyFiles.in_folder(tmp_path)
    tmp_path.chmod(0o700)
    files.ensure()
    serving = Keyring.from_files(files)
    rotating = Keyring.from_files(files)
    added = rotating.files.add_newest(index=False)
    rotating.refresh(force=True)
    sealed = rotating.seal(b"new", CONTEXT)
    assert key_id_of(sealed) == added.id == "k2"
    assert serving.open(sealed, CONTEXT) == b"new", "an unknown id re-reads the key files"
    assert serving.newest_data_id == "k2"
    assert [k.id for k in parse_keys(files.data_path.read_text())] == ["k2", "k1"]


def test_the_database_holds_only_sealed_text_and_the_model_only_plain_values(db_session):
    resident = factories.resident(db_session, resident_no="55501", name="鈴木 一郎",
                                  name_kana="スズキ イチロウ", birth_date=date(1944, 2, 3),
                                  phone="+819011110000")
    db_session.commit()
    row = db_session.execute(text(
        "SELECT resident_no, name, name_kana, birth_date, resident_no_digest FROM residents "
        "WHERE id = :id"), {"id": resident.id}).one()
    assert all(value.startswith("s1:") for value in row[:4])
    assert "55501" not in "".join(row) and "鈴木" not in "".join(row)
    assert row.resident_no_digest.startswith("x1:")
    db_session.expire_all()
    again = db_session.get(Resident, resident.id)
    assert (again.resident_no, again.name, again.birth_date) == (
        "55501", "鈴木 一郎", date(1944, 2, 3))
    assert again.phones[0].e164 == "+819011110000"


def test_comparing_a_sealed_column_with_a_value_is_refused_instead_of_finding_nothing():
    with pytest.raises(SealedComparison, match=r"calls\.from_e164 is sealed"):
        select(Call).where(Call.from_e164 == "+819012345678")
    with pytest.raises(SealedComparison):
        select(Resident).where(Resident.name.like("鈴木%"))
    with pytest.raises(SealedComparison):
        select(Resident).where(Resident.resident_no.in_(["1"]))
    select(Call).where(Call.from_e164.is_(None), Call.from_e164.is_not(None))
    select(Call).where(Call.from_e164 == None)  # noqa: E711 (the ORM's own spelling of IS NULL)
