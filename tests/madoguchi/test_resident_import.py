"""Importing the city's resident register export: encodings, updates, and refusing bad files."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from madoguchi import residents
from madoguchi.models import Resident, ResidentPhone
from madoguchi.resident_import import ImportRejected, import_residents
from tests import factories

HEADER = "resident_no,name,name_kana,birth_date,phone,language"
GOOD_LINES = [
    "100001,山田 太郎,ヤマダ タロウ,1948-05-17,090-1234-5678,ja",
    "100002,髙橋 花子,タカハシ ハナコ,1941-11-03,03-3456-7890,",
    "100003,John Smith,スミス ジョン,1955-01-30,,en",
]


def write_csv(tmp_path: Path, lines: list[str], *, encoding: str = "utf-8",
              name: str = "residents.csv") -> Path:
    """A register export with the given lines after the header, in the given encoding."""
    path = tmp_path / name
    path.write_bytes(("\r\n".join([HEADER, *lines]) + "\r\n").encode(encoding))
    return path


def run_import(session, path: Path, progress: bool = False):
    return import_residents(session, path, region="JP", languages=["ja", "en"], progress=progress)


def resident(session, resident_no: str) -> Resident | None:
    return residents.by_resident_no(session, resident_no)


def count_residents(session) -> int:
    return session.scalar(select(func.count()).select_from(Resident))


def count_phones(session) -> int:
    return session.scalar(select(func.count()).select_from(ResidentPhone))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_a_register_export_in_utf8_utf8_with_bom_or_shift_jis_is_imported(
    db_session, tmp_path, encoding
):
    path = write_csv(tmp_path, GOOD_LINES, encoding=encoding)

    report = run_import(db_session, path)

    assert (report.created, report.updated) == (3, 0)
    hanako = resident(db_session, "100002")
    assert hanako.name == "髙橋 花子"  # 髙 exists only in cp932, not in plain Shift_JIS
    assert hanako.name_kana == "タカハシ ハナコ"
    assert hanako.birth_date == date(1941, 11, 3)
    assert hanako.language == "ja"
    assert [(p.e164, p.is_mobile) for p in hanako.phones] == [("+81334567890", False)]
    taro = resident(db_session, "100001")
    assert [(p.e164, p.is_mobile) for p in taro.phones] == [("+819012345678", True)]
    john = resident(db_session, "100003")
    assert john.language == "en" and john.phones == []


def test_the_report_says_what_was_done_in_japanese_and_english(db_session, tmp_path):
    report = run_import(db_session, write_csv(tmp_path, GOOD_LINES))

    text = str(report)
    assert "新規 3人" in text and "3 new" in text and "0 updated" in text


def test_phone_numbers_in_any_common_notation_are_stored_in_e164(db_session, tmp_path):
    lines = [
        "200001,佐藤 一郎,サトウ イチロウ,1940-01-01,０９０－１２３４－５６７８,",
        "200002,佐藤 二郎,サトウ ジロウ,1940-01-02,184-090-2345-6789,",
        "200003,佐藤 三郎,サトウ サブロウ,1940-01-03,(045) 321-4567,",
        "200004,佐藤 四郎,サトウ シロウ,1940-01-04,+81 70 3456 7890,",
        "200005,佐藤 五郎,サトウ ゴロウ,1940-01-05,03-3456-7890 / 080-1111-2222,",
    ]
    run_import(db_session, write_csv(tmp_path, lines))

    stored = {
        r.resident_no: [p.e164 for p in r.phones]
        for r in db_session.scalars(select(Resident)) if r.resident_no.startswith("2")
    }
    assert stored == {
        "200001": ["+819012345678"],
        "200002": ["+819023456789"],
        "200003": ["+81453214567"],
        "200004": ["+817034567890"],
        "200005": ["+81334567890", "+818011112222"],
    }


def test_half_width_katakana_and_full_width_spaces_in_the_reading_are_normalised(
    db_session, tmp_path
):
    lines = ["300001,鈴木 茂,ｽｽﾞｷ\u3000ｼｹﾞﾙ,1939-07-07,,"]
    run_import(db_session, write_csv(tmp_path, lines))

    assert resident(db_session, "300001").name_kana == "スズキ シゲル"


def test_reimporting_updates_residents_by_number_and_replaces_their_phones(db_session, tmp_path):
    run_import(db_session, write_csv(tmp_path, GOOD_LINES, name="first.csv"))
    changed = [
        "100001,山田 太郎,ヤマダ タロウ,1948-05-18,080-2222-3333,en",
        "100002,高橋 花子,タカハシ ハナコ,1941-11-03,,",
        "100004,田中 勇,タナカ イサム,1950-02-28,0422-12-3456,",
    ]

    report = run_import(db_session, write_csv(tmp_path, changed, name="second.csv"))

    assert (report.created, report.updated) == (1, 2)
    db_session.expire_all()
    taro = resident(db_session, "100001")
    assert (taro.birth_date, taro.language) == (date(1948, 5, 18), "en")
    assert [p.e164 for p in taro.phones] == ["+818022223333"]
    hanako = resident(db_session, "100002")
    assert hanako.name == "高橋 花子" and hanako.phones == []
    assert resident(db_session, "100003") is not None  # not in the file: left as it was
    assert count_residents(db_session) == 4


BAD_LINES = [
    # (line in the file, what the clerk must read)
    ("400001,山田 太郎,ヤマダ タロウ,1948-02-30,,", "存在しない日付です"),
    ("400002,山田 次郎,ヤマダ ジロウ,1948/02/03,,", "YYYY-MM-DD"),
    # A month ahead, not tomorrow: the line is written when the tests are collected, and a run
    # that crosses midnight would otherwise read "tomorrow" as today.
    (f"400003,山田 三郎,ヤマダ サブロウ,{date.today() + timedelta(days=30)},,", "未来の日付"),
    ("400004,山田 四郎,ヤマダ シロウ,1948-01-01,090-12,", "電話番号が読めません"),
    ("400005,山田 五郎,ヤマダ ゴロウ,1948-01-01,,fr", "language「fr」は使えません"),
    (",山田 六郎,ヤマダ ロクロウ,1948-01-01,,", "resident_no が空です"),
    ("4000-07,山田 七郎,ヤマダ シチロウ,1948-01-01,,", "数字と半角英字だけ"),
    ("400008,,ヤマダ ハチロウ,1948-01-01,,", "name (氏名) が空です"),
    ("400009,山田 九郎,,1948-01-01,,", "name_kana (フリガナ) が空です"),
    ("400010,山田 十郎,やまだ じゅうろう,1948-01-01,,", "カタカナで書いてください"),
    ("400011,山田 太郎,ヤマダ タロウ,,,", "birth_date (生年月日) が空です"),
    ('400012,"=HYPERLINK(""http://x.example"",""click"")",ヤマダ,1948-01-01,,', "式として動く"),
    ("400013,@SUM(A1),ヤマダ,1948-01-01,,", "式として動く"),
    ("400014,山田 太郎,-ヤマダ,1948-01-01,,", "式として動く"),
    ("400015,山田 太郎,ヤマダ,1948-01-01,+cmd|' /C calc'!A0,", "式として動く"),
    ("400016,山田 太郎,ヤマダ タロウ,1948-01-01", "列の数が 4 です"),
]


@pytest.mark.parametrize(("line", "expected"), BAD_LINES, ids=[e for _, e in BAD_LINES])
def test_a_bad_line_is_refused_with_its_line_number_and_the_reason(
    db_session, tmp_path, line, expected
):
    path = write_csv(tmp_path, [GOOD_LINES[0], line])

    with pytest.raises(ImportRejected) as refused:
        run_import(db_session, path)

    assert [number for number, _ in refused.value.problems] == [3]
    assert expected in refused.value.problems[0][1]
    assert count_residents(db_session) == 0


def test_every_bad_line_is_reported_at_once_and_nothing_is_written(db_session, tmp_path):
    kept = factories.resident(db_session, resident_no="100001", name="元の 名前")
    db_session.commit()
    lines = [GOOD_LINES[0], *(line for line, _ in BAD_LINES), GOOD_LINES[1]]

    with pytest.raises(ImportRejected) as refused:
        run_import(db_session, write_csv(tmp_path, lines))

    assert sorted({number for number, _ in refused.value.problems}) == list(
        range(3, 3 + len(BAD_LINES))
    )
    report = str(refused.value)
    assert "何も書き込んでいません" in report and "nothing was written" in report
    assert "3行目: birth_date「1948-02-30」は存在しない日付です (impossible date" in report
    db_session.expire_all()
    assert count_residents(db_session) == 1
    assert resident(db_session, "100001").name == kept.name


def test_a_resident_number_used_twice_is_reported_on_both_lines(db_session, tmp_path):
    lines = [GOOD_LINES[0], GOOD_LINES[1], GOOD_LINES[0].replace("山田", "山本")]

    with pytest.raises(ImportRejected) as refused:
        run_import(db_session, write_csv(tmp_path, lines))

    assert [number for number, _ in refused.value.problems] == [2, 4]
    for _, message in refused.value.problems:
        assert "100001" in message and "2・4行目" in message and "duplicate" in message


def test_a_line_after_a_cell_spanning_two_lines_keeps_its_true_line_number(db_session, tmp_path):
    lines = ['100001,"山田\n太郎",ヤマダ タロウ,1948-05-17,,', "100002,山田,ヤマダ,1948-02-30,,"]

    with pytest.raises(ImportRejected) as refused:
        run_import(db_session, write_csv(tmp_path, lines))

    assert [number for number, _ in refused.value.problems] == [4]


def test_an_international_phone_number_starting_with_plus_is_not_taken_for_a_formula(
    db_session, tmp_path
):
    lines = ["500001,山田 太郎,ヤマダ タロウ,1948-05-17,+81-90-1234-5678,"]
    run_import(db_session, write_csv(tmp_path, lines))

    assert [p.e164 for p in resident(db_session, "500001").phones] == ["+819012345678"]


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("resident_no,name,name_kana,birth_date,language", "missing columns: phone"),
        ("resident_no,name,kana,birth_date,phone,language", "unknown columns: kana"),
        ("resident_no,name,name_kana,birth_date,phone,language,memo", "unknown columns: memo"),
    ],
)
def test_a_header_with_missing_or_unknown_columns_is_refused_naming_them(
    db_session, tmp_path, header, named
):
    path = tmp_path / "residents.csv"
    path.write_text(header + "\n" + GOOD_LINES[0] + "\n", encoding="utf-8")

    with pytest.raises(ImportRejected) as refused:
        run_import(db_session, path)

    assert {number for number, _ in refused.value.problems} == {1}
    assert any(named in message for _, message in refused.value.problems)
    assert count_residents(db_session) == 0


def test_a_file_in_neither_utf8_nor_shift_jis_is_refused_with_the_line_it_breaks_on(
    db_session, tmp_path
):
    path = tmp_path / "residents.csv"
    path.write_bytes((HEADER + "\n" + GOOD_LINES[0] + "\n").encode() + b"100009,\xff\xfe\xfd,x\n")

    with pytest.raises(ImportRejected) as refused:
        run_import(db_session, path)

    assert refused.value.problems[0][0] == 3
    assert "UTF-8かShift_JIS" in refused.value.problems[0][1]


def test_an_empty_file_and_a_header_alone_are_refused(db_session, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header_only = tmp_path / "header.csv"
    header_only.write_text(HEADER + "\n", encoding="utf-8")

    for path in (empty, header_only):
        with pytest.raises(ImportRejected) as refused:
            run_import(db_session, path)
        assert refused.value.problems


def test_an_import_of_thousands_of_lines_uses_a_few_bulk_statements(db_session, engine, tmp_path):
    lines = [
        f"{600000 + i},山田 太郎,ヤマダ タロウ,1948-05-17,090-{1000 + i % 9000:04d}-{i:04d},"
        for i in range(3000)
    ]
    path = write_csv(tmp_path, lines)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        first = run_import(db_session, path)
        again = run_import(db_session, path)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert (first.created, again.updated) == (3000, 3000)
    assert count_phones(db_session) == 3000
    assert len(statements) < 60, f"{len(statements)} statements for 2 × 3000 lines"


def test_progress_draws_a_bar_on_stderr_only_when_asked(db_session, tmp_path, capsys):
    run_import(db_session, write_csv(tmp_path, GOOD_LINES, name="quiet.csv"), progress=False)
    assert capsys.readouterr().err == ""

    run_import(db_session, write_csv(tmp_path, GOOD_LINES, name="loud.csv"), progress=True)
    captured = capsys.readouterr()
    assert "writing" in captured.err and captured.out == ""
