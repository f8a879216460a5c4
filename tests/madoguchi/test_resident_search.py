"""Finding residents through blind indexes: every kind of lookup, and what no longer matches."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from call_queue import callbacks
from madoguchi import residents
from madoguchi.models import ResidentSearchTerm
from tests import factories

BORN = date(1951, 9, 23)


@pytest.fixture
def people(db_session) -> dict:
    """Three residents: two Takahashis (one written with the old 髙) and a Satō, with phones."""
    kazuko = factories.resident(db_session, resident_no="20240001", name="髙橋 和子",
                                name_kana="タカハシ カズコ", birth_date=BORN,
                                phone="+819012345678")
    yuichi = factories.resident(db_session, resident_no="20240002", name="高橋 ユーイチ",
                                name_kana="タカハシ ユーイチ", birth_date=date(1949, 1, 2),
                                phone="+81312345678")
    hanako = factories.resident(db_session, resident_no="20240003", name="佐藤 花子",
                                name_kana="サトウ ハナコ", birth_date=date(1938, 12, 31),
                                phone="+818011115678")
    db_session.commit()
    return {"kazuko": kazuko.id, "yuichi": yuichi.id, "hanako": hanako.id}


def found(db_session, text: str) -> set[int]:
    """Ids of the residents the console search finds for the typed text."""
    return {resident.id for resident in residents.search(db_session, text)[0]}


@pytest.mark.parametrize("typed", ["20240001", "２０２４０００１", " 20240001 "])
def test_the_resident_number_finds_its_resident(db_session, people, typed):
    assert found(db_session, typed) == {people["kazuko"]}


@pytest.mark.parametrize("typed", ["+819012345678", "09012345678", "090-1234-5678",
                                   "０９０－１２３４－５６７８", "(090) 1234 5678"])
def test_a_full_phone_number_in_any_notation_finds_its_resident(db_session, people, typed):
    assert found(db_session, typed) == {people["kazuko"]}


def test_the_last_four_digits_find_every_resident_whose_number_ends_so(db_session, people):
    assert found(db_session, "5678") == {people["kazuko"], people["yuichi"], people["hanako"]}
    assert found(db_session, "１２３４") == set()


@pytest.mark.parametrize("typed", ["19510923", "1951-09-23", "1951/9/23", "1951年9月23日"])
def test_a_birth_date_in_common_forms_finds_its_resident(db_session, people, typed):
    assert found(db_session, typed) == {people["kazuko"]}


@pytest.mark.parametrize(("typed", "who"), [
    ("髙橋 和子", {"kazuko"}),                    # the whole name
    ("高橋和子", {"kazuko"}),                     # today's form of 髙, no space
    ("タカハシカズコ", {"kazuko"}),                # the whole kana
    ("たかはし かずこ", {"kazuko"}),               # hiragana
    ("ﾀｶﾊｼ ｶｽﾞｺ", {"kazuko"}),                   # half-width kana
    ("高橋", {"kazuko", "yuichi"}),               # a family name
    ("高", {"kazuko", "yuichi"}),                 # its first character
    ("タカハ", {"kazuko", "yuichi"}),              # the start of the kana
    ("カズ", {"kazuko"}),                         # the start of a given name
    ("ユ-イチ", {"yuichi"}),                      # a hyphen typed for the long vowel mark
    ("ユーイチ", {"yuichi"}),
    ("タカハシ カズ", {"kazuko"}),                 # family name and the start of the given name
    ("サトウ", {"hanako"}),
    ("花子", {"hanako"}),
])
def test_a_name_or_kana_is_found_whole_by_part_or_by_the_start_of_a_part(
        db_session, people, typed, who):
    assert found(db_session, typed) == {people[name] for name in who}


@pytest.mark.parametrize("typed", ["ハシ", "橋", "カハシ", "ズコ", "1234", "345678", "2024000",
                                   "タカハシカ"])
def test_the_middle_of_a_name_or_number_and_a_long_prefix_match_nothing(db_session, people,
                                                                         typed):
    assert found(db_session, typed) == set()


def test_results_come_sorted_by_kana(db_session, people):
    results, kinds = residents.search(db_session, "5678")
    assert [r.name_kana for r in results] == sorted(r.name_kana for r in results)
    assert "last_four" in kinds.kinds


def test_a_renamed_resident_is_found_by_the_new_name_only(db_session, people):
    from madoguchi.models import Resident

    resident = db_session.get(Resident, people["hanako"])
    resident.name, resident.name_kana = "鈴木 花子", "スズキ ハナコ"
    db_session.commit()
    assert found(db_session, "スズキ") == {people["hanako"]}
    assert found(db_session, "サトウ") == set()
    terms = db_session.scalar(select(func.count()).select_from(ResidentSearchTerm).where(
        ResidentSearchTerm.resident_id == people["hanako"]))
    assert 10 <= terms <= 30


def test_the_phone_line_identifies_by_number_and_birth_date_and_by_caller_id(db_session,
                                                                             people):
    assert residents.identify(db_session, "20240001", BORN).id == people["kazuko"]
    assert residents.identify(db_session, "20240001", date(1951, 9, 24)) is None
    assert residents.identify(db_session, "20249999", BORN) is None
    assert [r.id for r in residents.by_phone(db_session, "+819012345678")] == [people["kazuko"]]
    assert residents.by_phone(db_session, "+819099999999") == []


def test_a_callback_number_already_waiting_is_found_by_its_digest(db_session, people):
    made = callbacks.request_callback(db_session, e164="+819012345678", call_id=None,
                                      resident_id=None, language="ja", reason="operator",
                                      window_start=None)
    db_session.commit()
    assert callbacks.active_for(db_session, "+819012345678").id == made.id
    assert callbacks.active_for(db_session, "+819012345679") is None


def test_the_menu_learns_in_one_query_whom_a_call_identified_and_whether_its_number_is_known(
        db_session, people):
    from madoguchi import calls

    calls.record_call(db_session, "CA-identified", from_raw="+819012345678",
                      to_number="+815012345678", resident_id=people["yuichi"])
    db_session.commit()

    assert residents.caller_on_record(db_session, "CA-identified", "+819012345678") == (
        people["yuichi"], True)
    assert residents.caller_on_record(db_session, "CA-not-yet-recorded", "+819012345678") == (
        None, True)
    assert residents.caller_on_record(db_session, "CA-not-yet-recorded", "+819099990000") == (
        None, False)
    assert residents.caller_on_record(db_session, "CA-withheld", None) == (None, False)
