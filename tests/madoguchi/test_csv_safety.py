"""CSV files for Excel: BOM, CRLF, Japanese intact, and no cell that a spreadsheet would run."""

from __future__ import annotations

import csv
import io

import pytest

from madoguchi.csv_safety import BOM, content_disposition, csv_lines, csv_text, safe_cell


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\",\"y\")", "+81 90", "-1+2", "@SUM(A1)",
                                  "\tcmd", "\rcmd"])
def test_a_cell_that_a_spreadsheet_would_run_gets_an_apostrophe(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["粗大ごみ", "a=b", "090-1234-5678", "", " =not-first"])
def test_an_ordinary_cell_is_left_as_it_is(cell):
    assert safe_cell(cell) == cell


def test_numbers_and_none_become_plain_text():
    assert (safe_cell(12), safe_cell(None), safe_cell(0)) == ("12", "", "0")


def test_the_file_starts_with_a_bom_ends_lines_with_crlf_and_parses_back():
    text = csv_text(["件名", "数"], [["街灯が消えている, 至急", 3], ["=1+1", 4]])
    assert text.startswith(BOM)
    assert text.count("\r\n") == 3 and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))
    assert rows == [["件名", "数"], ["街灯が消えている, 至急", "3"], ["'=1+1", "4"]]


def test_the_header_is_neutralised_too_and_lines_come_one_at_a_time():
    lines = list(csv_lines(["=danger"], ([n] for n in range(3))))
    assert lines == [BOM + "'=danger\r\n", "0\r\n", "1\r\n", "2\r\n"]


def test_a_download_name_must_be_plain_ascii():
    assert content_disposition("calls-2025.csv") == 'attachment; filename="calls-2025.csv"'
    with pytest.raises(ValueError):
        content_disposition("通話.csv")


def test_lines_joined_in_blocks_keep_every_line_in_order_and_stay_near_the_size():
    from madoguchi.csv_safety import in_blocks

    lines = [f"{n},{'x' * (n % 7)}\r\n" for n in range(1000)]
    blocks = list(in_blocks(iter(lines), size=100))
    assert "".join(blocks) == "".join(lines)
    assert all(100 <= len(block) < 100 + 12 for block in blocks[:-1])
    assert list(in_blocks([])) == []


def test_a_file_written_in_blocks_is_the_file_of_its_lines():
    from madoguchi.csv_safety import csv_blocks

    rows = [[n, -n, f"=x{n}", None, "a,b" if n % 3 else "\"q\"", True, 1.5, "@", "\tt"]
            for n in range(500)]
    header = ["=danger", "件名", 7]
    blocks = list(csv_blocks(header, iter(rows), size=200))
    assert "".join(blocks) == csv_text(header, rows)
    assert len(blocks) > 10 and all(len(block) >= 200 for block in blocks[:-1])
    assert list(csv_blocks(["a"], [])) == [BOM + "a\r\n"]
