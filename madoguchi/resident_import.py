"""Import the city's resident register export (CSV) into the residents table.

The whole file is read and checked before anything is written: a file with one bad line is
refused as a whole, with every bad line listed for the clerk who exported it. A good file is
written in one transaction with bulk statements, so 100,000 lines take seconds, not hours.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session
from tqdm import tqdm

from madoguchi import phone, resident_terms
from madoguchi.models import Resident, ResidentPhone, utcnow
from madoguchi.sealing import blind
from madoguchi.sealing.orm import with_digests

COLUMNS = ("resident_no", "name", "name_kana", "birth_date", "phone", "language")
DEFAULT_LANGUAGE = "ja"
# Spreadsheet programs run a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@")
# A phone cell like "+81 90-1234-5678" starts with "+" yet is a number, not a formula.
_INTERNATIONAL_PHONE = re.compile(r"\+[\d\s\-()]{6,24}")
_RESIDENT_NO = re.compile(r"[0-9A-Za-z]+")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# Full-width katakana (with ー and ・) and single spaces between parts of the name.
_KATAKANA = re.compile(r"[\u30a0-\u30ff]+( [\u30a0-\u30ff]+)*")
_PHONE_SEPARATORS = re.compile(r"[;/、]")
# Characters that reorder the text around them on screen, so a name could show as another.
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
MAX_LENGTHS = {"resident_no": 20, "name": 100, "name_kana": 100}
# Rows per statement: well under SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 500


@dataclass(frozen=True)
class ImportReport:
    """What an accepted import did."""

    created: int
    updated: int
    phones: int
    rows: int
    encoding: str

    def __str__(self) -> str:
        return (
            f"{self.rows}行を取り込みました: 新規 {self.created}人、更新 {self.updated}人、"
            f"電話番号 {self.phones}件 (文字コード {self.encoding})\n"
            f"imported {self.rows} lines: {self.created} new, {self.updated} updated, "
            f"{self.phones} phone numbers ({self.encoding})"
        )


class ImportRejected(Exception):
    """The file was refused as a whole; `problems` lists every (line number, message)."""

    def __init__(self, path: Path, problems: Sequence[tuple[int, str]]) -> None:
        self.path = path
        self.problems = sorted(problems, key=lambda item: item[0])
        super().__init__(str(self))

    def __str__(self) -> str:
        bad_lines = len({line for line, _ in self.problems if line > 0})
        head = (
            f"{self.path.name}: 取り込みを中止しました。何も書き込んでいません。"
            f"問題 {len(self.problems)}件 ({bad_lines}行)。直してからもう一度取り込んでください。\n"
            f"(import refused, nothing was written: {len(self.problems)} problems "
            f"on {bad_lines} lines; fix them and import again)"
        )
        lines = [
            f"{line}行目: {message}" if line > 0 else message for line, message in self.problems
        ]
        return "\n".join([head, *lines])


@dataclass
class ResidentRow:
    """One checked line of the file."""

    line_no: int
    resident_no: str
    name: str
    name_kana: str
    birth_date: date
    language: str
    phones: list[str] = field(default_factory=list)


def _shown(value: str, limit: int = 30) -> str:
    """A cell as quoted in a message, shortened so one huge cell cannot flood the report."""
    return value if len(value) <= limit else value[:limit] + "…"


class UnreadableFile(ValueError):
    """The bytes are neither UTF-8 nor Shift_JIS; `line_no` is where reading failed (0: file)."""

    def __init__(self, line_no: int, message: str) -> None:
        super().__init__(message)
        self.line_no = line_no


def decode(raw: bytes) -> tuple[str, str]:
    """The file's text and the encoding found: UTF-8 with or without BOM, or Shift_JIS (cp932)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile(
            0,
            "文字コードがUTF-16です。UTF-8かShift_JISで保存し直してください "
            "(UTF-16 is not supported; save as UTF-8 or Shift_JIS)"
        )
    encodings = ("utf-8-sig",) if raw.startswith(b"\xef\xbb\xbf") else ("utf-8", "cp932")
    first_error: UnicodeDecodeError | None = None
    for encoding in encodings:
        try:
            return raw.decode(encoding), {"utf-8-sig": "UTF-8 (BOM)", "utf-8": "UTF-8"}.get(
                encoding, "Shift_JIS"
            )
        except UnicodeDecodeError as exc:
            first_error = first_error or exc
    assert first_error is not None
    line_no = raw.count(b"\n", 0, first_error.start) + 1
    raise UnreadableFile(
        line_no,
        "文字コードが読めません。UTF-8かShift_JISで保存し直してください "
        "(unreadable bytes: save the file as UTF-8 or Shift_JIS)"
    )


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line number each one starts on (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    last_line = 0
    for cells in reader:
        start = last_line + 1
        last_line = reader.line_num
        if cells and any(cell.strip() for cell in cells):
            yield start, cells


def _check_header(cells: list[str]) -> list[str]:
    """Problems with the header line; the file must name exactly the six columns."""
    names = [cell.strip() for cell in cells]
    missing = [name for name in COLUMNS if name not in names]
    unknown = [name for name in names if name not in COLUMNS]
    repeated = sorted({name for name in names if names.count(name) > 1})
    problems = []
    if missing:
        problems.append(
            f"見出しに列 {', '.join(missing)} がありません (missing columns: {', '.join(missing)}; "
            f"the first line must be {','.join(COLUMNS)})"
        )
    if unknown:
        shown = ", ".join(_shown(name) or "(空)" for name in unknown)
        problems.append(
            f"見出しに知らない列 {shown} があります (unknown columns: {shown}; "
            f"the first line must be {','.join(COLUMNS)})"
        )
    if repeated:
        problems.append(
            f"見出しに列 {', '.join(repeated)} が2回以上あります "
            f"(columns named twice: {', '.join(repeated)})"
        )
    return problems


def _formula_problem(column: str, value: str) -> str | None:
    text = unicodedata.normalize("NFKC", value).strip()
    if not text.startswith(FORMULA_STARTS):
        return None
    if column == "phone" and _INTERNATIONAL_PHONE.fullmatch(text):
        return None
    return (
        f"{column}「{_shown(value)}」は = + - @ で始まっています。表計算の式として動く"
        "おそれがあるため受け付けません (cell starts like a spreadsheet formula; "
        "remove the leading character)"
    )


def _check_resident_no(value: str) -> tuple[str, list[str]]:
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return text, ["resident_no が空です (resident_no is required)"]
    if not _RESIDENT_NO.fullmatch(text):
        return text, [
            f"resident_no「{_shown(value)}」には数字と半角英字だけが使えます "
            "(resident_no: digits and ASCII letters only)"
        ]
    if len(text) > MAX_LENGTHS["resident_no"]:
        return text, [
            f"resident_no「{_shown(value)}」が長すぎます ({MAX_LENGTHS['resident_no']}文字まで) "
            f"(resident_no: at most {MAX_LENGTHS['resident_no']} characters)"
        ]
    return text, []


def _check_name(value: str) -> tuple[str, list[str]]:
    # Line breaks, tabs and ideographic spaces inside a name become one plain space.
    text = " ".join(value.split())
    if not text:
        return text, ["name (氏名) が空です (name is required)"]
    if any(unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS for char in text):
        return text, [
            "name (氏名) に制御文字 (画面に出ない文字) が入っています。消してください "
            "(name contains a control character; remove it)"
        ]
    if len(text) > MAX_LENGTHS["name"]:
        return text, [
            f"name (氏名) が長すぎます ({MAX_LENGTHS['name']}文字まで) "
            f"(name: at most {MAX_LENGTHS['name']} characters)"
        ]
    return text, []


def _check_kana(value: str) -> tuple[str, list[str]]:
    # NFKC turns half-width ｶﾀｶﾅ into full-width カタカナ and the ideographic space into " ".
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    if not text:
        return text, ["name_kana (フリガナ) が空です (name_kana is required)"]
    if not _KATAKANA.fullmatch(text):
        return text, [
            f"name_kana「{_shown(value)}」はカタカナで書いてください "
            "(name_kana: katakana only, e.g. ヤマダ タロウ)"
        ]
    if len(text) > MAX_LENGTHS["name_kana"]:
        return text, [
            f"name_kana が長すぎます ({MAX_LENGTHS['name_kana']}文字まで) "
            f"(name_kana: at most {MAX_LENGTHS['name_kana']} characters)"
        ]
    return text, []


def _check_birth_date(value: str, today: date) -> tuple[date | None, list[str]]:
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return None, ["birth_date (生年月日) が空です (birth_date is required; write YYYY-MM-DD)"]
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        return None, [
            f"birth_date「{_shown(value)}」は 1948-05-17 のように年-月-日で書いてください "
            "(write the date as YYYY-MM-DD)"
        ]
    try:
        born = date(*(int(part) for part in match.groups()))
    except ValueError:
        return None, [
            f"birth_date「{_shown(value)}」は存在しない日付です (impossible date; write YYYY-MM-DD)"
        ]
    if born > today:
        return None, [f"birth_date「{value.strip()}」は未来の日付です (birth date in the future)"]
    if born < EARLIEST_BIRTH_DATE:
        return None, [
            f"birth_date「{value.strip()}」は古すぎます (birth date before 1900; check the year)"
        ]
    return born, []


def _check_phones(value: str, region: str) -> tuple[list[str], list[str]]:
    parts = [part.strip() for part in _PHONE_SEPARATORS.split(value) if part.strip()]
    found: list[str] = []
    problems: list[str] = []
    for position, part in enumerate(parts, start=1):
        which = f"{position}番目の" if len(parts) > 1 else ""
        try:
            e164 = phone.normalize(part, region)
        except phone.InvalidPhoneNumber as exc:
            # The number itself stays out of the message: reports end up in logs and e-mails.
            problems.append(
                f"phone: {which}電話番号が読めません。090-1234-5678 や 03-1234-5678 のように"
                f"書いてください ({exc})"
            )
            continue
        if e164 not in found:
            found.append(e164)
    return found, problems


def _check_language(value: str, languages: Sequence[str]) -> tuple[str, list[str]]:
    text = unicodedata.normalize("NFKC", value).strip().lower() or DEFAULT_LANGUAGE
    if text not in languages:
        allowed = ", ".join(languages)
        return text, [
            f"language「{_shown(value)}」は使えません。{allowed} のどれかにするか空にしてください "
            f"(language must be one of {allowed}, or empty for {DEFAULT_LANGUAGE})"
        ]
    return text, []


def check_row(
    line_no: int,
    cells: dict[str, str],
    *,
    region: str,
    languages: Sequence[str],
    today: date,
) -> tuple[ResidentRow | None, list[str]]:
    """A checked row, or None and every problem found on the line."""
    problems = [
        problem
        for column in COLUMNS
        if (problem := _formula_problem(column, cells[column])) is not None
    ]
    if problems:
        return None, problems
    resident_no, no_problems = _check_resident_no(cells["resident_no"])
    name, name_problems = _check_name(cells["name"])
    kana, kana_problems = _check_kana(cells["name_kana"])
    born, date_problems = _check_birth_date(cells["birth_date"], today)
    phones, phone_problems = _check_phones(cells["phone"], region)
    language, language_problems = _check_language(cells["language"], languages)
    problems = (
        no_problems + name_problems + kana_problems + date_problems + phone_problems
        + language_problems
    )
    if problems or born is None:
        return None, problems
    return ResidentRow(line_no, resident_no, name, kana, born, language, phones), []


def _duplicate_problems(rows: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """One problem on every line whose resident_no appears on another line too."""
    lines_of: dict[str, list[int]] = defaultdict(list)
    for line_no, resident_no in rows:
        if resident_no:
            lines_of[resident_no].append(line_no)
    problems = []
    for resident_no, lines in lines_of.items():
        if len(lines) < 2:
            continue
        listed = "・".join(str(line) for line in lines)
        for line_no in lines:
            problems.append(
                (
                    line_no,
                    f"resident_no「{resident_no}」が {listed}行目に重複しています。"
                    "1人1行にしてください "
                    f"(duplicate resident_no on lines {', '.join(map(str, lines))})",
                )
            )
    return problems


def read_residents(
    path: Path, *, region: str, languages: Sequence[str], progress: bool = False,
    today: date | None = None,
) -> tuple[list[ResidentRow], str]:
    """Every row checked, and the encoding; raises ImportRejected listing all problems."""
    today = today or date.today()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportRejected(
            path, [(0, f"ファイルを開けません (cannot read the file: {exc.strerror})")]
        ) from None
    try:
        text, encoding = decode(raw)
    except UnreadableFile as exc:
        raise ImportRejected(path, [(exc.line_no, str(exc))]) from None
    records = _records(text)
    header = next(records, None)
    if header is None:
        expected = ",".join(COLUMNS)
        raise ImportRejected(
            path, [(0, f"ファイルが空です (the file is empty; expected the header {expected})")]
        )
    header_line, header_cells = header
    header_problems = _check_header(header_cells)
    if header_problems:
        raise ImportRejected(path, [(header_line, message) for message in header_problems])
    names = [cell.strip() for cell in header_cells]

    rows: list[ResidentRow] = []
    problems: list[tuple[int, str]] = []
    numbers: list[tuple[int, str]] = []
    bar = tqdm(records, desc="checking", unit=" lines", file=sys.stderr, disable=not progress)
    for line_no, cells in bar:
        if len(cells) != len(names):
            problems.append(
                (
                    line_no,
                    f"列の数が {len(cells)} です。{len(names)}列にしてください "
                    f"(found {len(cells)} cells, expected {len(names)}; "
                    "a comma inside a name needs double quotes)",
                )
            )
            continue
        by_name = dict(zip(names, cells, strict=True))
        numbers.append((line_no, unicodedata.normalize("NFKC", by_name["resident_no"]).strip()))
        row, row_problems = check_row(
            line_no, by_name, region=region, languages=languages, today=today
        )
        problems.extend((line_no, message) for message in row_problems)
        if row is not None:
            rows.append(row)
    problems.extend(_duplicate_problems(numbers))
    if problems:
        raise ImportRejected(path, problems)
    if not rows:
        raise ImportRejected(
            path, [(0, "見出しの後に住民の行がありません (no resident lines after the header)")]
        )
    return rows, encoding


def _chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing_ids(session: Session, numbers: Sequence[str]) -> dict[str, int]:
    """resident_no → id for the numbers already in the database, looked up in chunks.

    Numbers are sealed: each is found by its digest (under every index key, in case an index
    rebuild is under way).
    """
    found: dict[str, int] = {}
    for chunk in _chunks(numbers):
        by_digest = {digest: number for number in chunk
                     for digest in blind.lookup_digests("resident_no",
                                                        blind.resident_number(number) or "")}
        query = select(Resident.resident_no_digest, Resident.id).where(
            Resident.resident_no_digest.in_(list(by_digest)))
        found.update({by_digest[digest]: id_ for digest, id_ in session.execute(query)})
    return found


def write_residents(
    session: Session, rows: Sequence[ResidentRow], *, progress: bool
) -> tuple[int, int, int]:
    """Insert new residents, update known ones, replace their phones; returns the counts."""
    now = utcnow()
    existing = _existing_ids(session, [row.resident_no for row in rows])
    new_rows = [row for row in rows if row.resident_no not in existing]
    known_rows = [row for row in rows if row.resident_no in existing]
    bar = tqdm(total=len(rows), desc="writing", unit=" residents", file=sys.stderr,
               disable=not progress)
    ids: dict[str, int] = dict(existing)
    for chunk in _chunks(new_rows):
        values = [
            {"resident_no": row.resident_no, "name": row.name, "name_kana": row.name_kana,
             "birth_date": row.birth_date, "language": row.language, "created_at": now,
             "updated_at": now}
            for row in chunk
        ]
        session.execute(insert(Resident), with_digests(Resident, values))
        bar.update(len(chunk))
    # Ids are read back by number: RETURNING in parameter order is one row per statement on SQLite.
    ids.update(_existing_ids(session, [row.resident_no for row in new_rows]))
    for chunk in _chunks(known_rows):
        session.execute(
            update(Resident),
            with_digests(Resident, [
                {"id": existing[row.resident_no], "name": row.name, "name_kana": row.name_kana,
                 "birth_date": row.birth_date, "language": row.language, "updated_at": now}
                for row in chunk
            ]),
        )
        # The file is the register: a known resident's phones become exactly the file's.
        session.execute(
            delete(ResidentPhone).where(
                ResidentPhone.resident_id.in_([existing[row.resident_no] for row in chunk])
            )
        )
        bar.update(len(chunk))
    bar.close()
    resident_terms.replace_terms(session.connection(), [
        (ids[row.resident_no], row.name, row.name_kana) for row in rows])
    phone_values = [
        {"resident_id": ids[row.resident_no], "e164": e164, "is_mobile": phone.is_mobile(e164)}
        for row in rows
        for e164 in row.phones
    ]
    for chunk in _chunks(phone_values):
        session.execute(insert(ResidentPhone), with_digests(ResidentPhone, list(chunk)))
    return len(new_rows), len(known_rows), len(phone_values)


def import_residents(
    session: Session, path: Path, *, region: str, languages: list[str], progress: bool
) -> ImportReport:
    """Check the whole file, then create or update every resident in one transaction."""
    path = Path(path)
    rows, encoding = read_residents(path, region=region, languages=languages, progress=progress)
    try:
        created, updated, phones = write_residents(session, rows, progress=progress)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return ImportReport(
        created=created, updated=updated, phones=phones, rows=len(rows), encoding=encoding
    )

