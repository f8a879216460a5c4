"""Re-sealing every value under the newest key and rebuilding every blind index, in batches.

Both walk each table in primary-key order, a batch per transaction with the batch's rows locked
(PostgreSQL: FOR UPDATE; SQLite: the write lock every transaction takes), so web processes and
workers keep reading and writing while it runs: a value is either still under its old key (which
they still hold) or already under the newest. Only what is not yet under the newest key is
selected, so a run stopped half-way (a crash, Ctrl-C) is simply run again and continues.

The same pass seals an earlier version's plain text (`madoguchi db upgrade`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    column,
    exists,
    func,
    not_,
    or_,
    select,
    table,
    true,
    update,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.expression import TableClause
from tqdm import tqdm

from madoguchi.sealing import audit_redaction, canary, state
from madoguchi.sealing.blind import BlindIndex
from madoguchi.sealing.columns import Sealed
from madoguchi.sealing.keyring import TOKEN_PREFIX, Keyring, NotSealed, key_id_of

BATCH_SIZE = 500
_LOCK_RETRIES = 5


@dataclass(frozen=True)
class SealedColumn:
    """A sealed column: its table, primary key and the context its values are bound to."""

    table: str
    name: str
    pk: str
    context: str
    # The table with this column as plain text (no sealing, no onupdate defaults).
    raw: TableClause = field(compare=False)

    @property
    def label(self) -> str:
        """table.column."""
        return f"{self.table}.{self.name}"


@dataclass(frozen=True)
class DigestColumn:
    """A blind-index column: its table, primary key and what it is the digest of."""

    table: Table
    name: str
    pk: str
    spec: BlindIndex

    @property
    def label(self) -> str:
        """table.column."""
        return f"{self.table.name}.{self.name}"


def _tables() -> list[Table]:
    from madoguchi.models import Base

    return list(Base.metadata.sorted_tables)


def _pk(tbl: Table) -> str:
    (pk,) = tbl.primary_key.columns
    return pk.name


def sealed_columns() -> list[SealedColumn]:
    """Every sealed column of the schema, found by its type."""
    return [SealedColumn(tbl.name, col.name, _pk(tbl), col.type.context,
                         table(tbl.name, column(_pk(tbl)), column(col.name)))
            for tbl in _tables() for col in tbl.columns if isinstance(col.type, Sealed)]


def digest_columns() -> list[DigestColumn]:
    """Every blind-index column of the schema, found by its declaration."""
    return [DigestColumn(tbl, col.name, _pk(tbl), col.info["blind_index"])
            for tbl in _tables() for col in tbl.columns if "blind_index" in col.info]


def _starts(col: ColumnElement[Any], prefix: str) -> ColumnElement[bool]:
    return col.startswith(prefix, autoescape=True)


def _batches(engine: Engine, fetch: Callable[[Connection, Any], Sequence],
             handle: Callable[[Connection, Sequence], None]) -> Iterator[int]:
    """Fetch and handle batches, one transaction each (retried on lock contention)."""
    from madoguchi.db import is_lock_error

    last = None
    while True:
        for attempt in range(_LOCK_RETRIES):
            try:
                with engine.begin() as connection:
                    rows = fetch(connection, last)
                    if rows:
                        handle(connection, rows)
                break
            except OperationalError as exc:
                if not is_lock_error(exc) or attempt == _LOCK_RETRIES - 1:
                    raise
                time.sleep(0.1 * 2 ** attempt)
        if not rows:
            return
        last = rows[-1][0]
        yield len(rows)


def _after(pk_column, last) -> ColumnElement[bool]:
    return true() if last is None else pk_column > last


def _bar(total: int, what: str, progress: bool) -> tqdm:
    return tqdm(total=total, desc=what, unit=" values", file=sys.stderr, disable=not progress,
                dynamic_ncols=True)


# --- re-sealing ------------------------------------------------------------------------------

def _needs_sealing(raw_column, keyring: Keyring) -> ColumnElement[bool]:
    return raw_column.is_not(None) & not_(
        _starts(raw_column, f"{TOKEN_PREFIX}{keyring.newest_data_id}:"))


def _opened(keyring: Keyring, value: str, context: str, plaintext: bool) -> bytes:
    if plaintext and key_id_of(value) is None:
        return value.encode()
    if key_id_of(value) is None:
        raise NotSealed(f"{context}: a value is not sealed; run: madoguchi db upgrade")
    return keyring.open(value, context)


def reseal(engine: Engine, keyring: Keyring, *, progress: bool = False,
           batch_size: int = BATCH_SIZE, plaintext: bool = False) -> int:
    """Seal every value not yet under the newest data key; returns how many were re-sealed.

    With plaintext=True, values that are not sealed at all (an earlier version's data) are
    sealed as they are; otherwise they stop the run with an error.
    """
    state.install(keyring)
    columns = sealed_columns()
    with engine.connect() as connection:
        total = sum(connection.execute(select(func.count()).select_from(c.raw).where(
            _needs_sealing(c.raw.c[c.name], keyring))).scalar_one() for c in columns)
    done = 0
    with _bar(total, "sealing" if plaintext else "re-sealing", progress) as bar:
        for col in columns:
            raw = col.raw
            value_col, pk_col = raw.c[col.name], raw.c[col.pk]

            def fetch(connection, last, value_col=value_col, pk_col=pk_col):
                return connection.execute(
                    select(pk_col, value_col)
                    .where(_needs_sealing(value_col, keyring), _after(pk_col, last))
                    .order_by(pk_col).limit(batch_size).with_for_update()).all()

            def handle(connection, rows, col=col, raw=raw, pk_col=pk_col):
                params = [{"b_pk": pk, "b_value": keyring.seal(
                    _opened(keyring, value, col.context, plaintext), col.context)}
                    for pk, value in rows]
                connection.execute(update(raw).where(pk_col == bindparam("b_pk"))
                                   .values({col.name: bindparam("b_value")}), params)

            for count in _batches(engine, fetch, handle):
                done += count
                bar.update(count)
    return done


# --- rebuilding blind indexes ----------------------------------------------------------------

def _stale_digest(col: DigestColumn, keyring: Keyring) -> ColumnElement[bool]:
    digest = col.table.c[col.name]
    sources = [col.table.c[name] for name in col.spec.sources]
    newest = f"{keyring.newest_index_id}:"
    return or_(and_(digest.is_(None), or_(*[s.is_not(None) for s in sources])),
               not_(_starts(digest, newest)))


def _stale_terms(keyring: Keyring) -> ColumnElement[bool]:
    from madoguchi.models import Resident, ResidentSearchTerm

    terms = ResidentSearchTerm.__table__.c
    resident = Resident.__table__.c
    return or_(
        exists().where(terms.resident_id == resident.id,
                       not_(_starts(terms.term, f"{keyring.newest_index_id}:"))),
        ~exists().where(terms.resident_id == resident.id))


def rebuild_indexes(engine: Engine, keyring: Keyring, *, progress: bool = False,
                    batch_size: int = BATCH_SIZE) -> int:
    """Recompute every digest and search term not yet under the newest index key; how many."""
    from madoguchi import resident_terms
    from madoguchi.models import Resident

    state.install(keyring)
    columns = digest_columns()
    residents = Resident.__table__
    with engine.connect() as connection:
        total = sum(connection.execute(select(func.count()).select_from(c.table).where(
            _stale_digest(c, keyring))).scalar_one() for c in columns)
        total += connection.execute(select(func.count()).select_from(residents).where(
            _stale_terms(keyring))).scalar_one()
    done = 0
    with _bar(total, "indexing", progress) as bar:
        for col in columns:
            tbl, pk_col = col.table, col.table.c[col.pk]
            sources = [tbl.c[name] for name in col.spec.sources]
            plain = table(tbl.name, column(col.pk), column(col.name))

            def fetch(connection, last, col=col, tbl=tbl, pk_col=pk_col, sources=sources):
                return connection.execute(
                    select(pk_col, *sources).where(_stale_digest(col, keyring),
                                                   _after(pk_col, last))
                    .order_by(pk_col).limit(batch_size).with_for_update(of=tbl)).all()

            def handle(connection, rows, col=col, plain=plain):
                params = []
                for pk, *values in rows:
                    value = col.spec.value_of(*values)
                    params.append({"b_pk": pk, "b_digest": None if value is None
                                   else keyring.digest(col.spec.kind, value)})
                connection.execute(update(plain).where(plain.c[col.pk] == bindparam("b_pk"))
                                   .values({col.name: bindparam("b_digest")}), params)

            for count in _batches(engine, fetch, handle):
                done += count
                bar.update(count)

        def fetch_residents(connection, last):
            return connection.execute(
                select(residents.c.id, residents.c.name, residents.c.name_kana)
                .where(_stale_terms(keyring), _after(residents.c.id, last))
                .order_by(residents.c.id).limit(batch_size).with_for_update(of=residents)).all()

        def handle_residents(connection, rows):
            resident_terms.replace_terms(connection, [tuple(row) for row in rows])

        for count in _batches(engine, fetch_residents, handle_residents):
            done += count
            bar.update(count)
    return done


# --- an earlier version's plain text ---------------------------------------------------------

def seal_earlier_data(engine: Engine, keyring: Keyring, *, progress: bool = False,
                      batch_size: int = BATCH_SIZE) -> bool:
    """Seal and index what an earlier version left in plain text; True if there was any.

    Safe to stop and run again: the database is marked sealed only once everything is.
    """
    from madoguchi.models import SealingCanary, utcnow

    with engine.connect() as connection:
        current = connection.execute(select(SealingCanary.state).where(
            SealingCanary.id == canary.CANARY_ID)).scalar()
    if current != canary.PLAINTEXT:
        return False
    reseal(engine, keyring, progress=progress, batch_size=batch_size, plaintext=True)
    with engine.begin() as connection:
        audit_redaction.redact(connection)
    rebuild_indexes(engine, keyring, progress=progress, batch_size=batch_size)
    plain = table("sealing_canary", column("id"), column("state"), column("data_token"),
                  column("index_digest"), column("updated_at"))
    with engine.begin() as connection:
        connection.execute(update(plain).where(plain.c.id == canary.CANARY_ID).values(
            state=canary.SEALED, updated_at=utcnow(), **canary.canary_values(keyring)))
    erase_leftovers(engine)
    return True


def erase_leftovers(engine: Engine) -> None:
    """Rewrite the stored tables so the plain text they held is not left in free space.

    An UPDATE leaves the old row behind until the space is reused: SQLite in free pages and the
    WAL, PostgreSQL in dead tuples. SQLite is checkpointed and VACUUMed; PostgreSQL's tables
    that held personal data get VACUUM FULL (brief exclusive locks: this runs during
    `madoguchi db upgrade`, before the web processes start).
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            raw.execute("VACUUM")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    tables = sorted({col.table for col in sealed_columns()} | {"audit_log"})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for name in tables:
            connection.exec_driver_sql(f"VACUUM FULL {name}")


# --- what each key still seals ---------------------------------------------------------------

@dataclass
class KeyUse:
    """How many values (or digests) one key still covers."""

    key_id: str
    count: int = 0
    newest: bool = False
    configured: bool = True


@dataclass
class KeyStatus:
    """What each data key seals and each index key indexes, and what is left over."""

    data: list[KeyUse] = field(default_factory=list)
    index: list[KeyUse] = field(default_factory=list)
    unsealed: int = 0
    other_data: int = 0
    other_index: int = 0
    per_column: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def data_pending(self) -> int:
        """Values not under the newest data key."""
        return self.unsealed + self.other_data + sum(k.count for k in self.data if not k.newest)

    @property
    def index_pending(self) -> int:
        """Digests not under the newest index key."""
        return self.other_index + sum(k.count for k in self.index if not k.newest)


def _count_by_prefix(connection: Connection, from_, col, prefixes: dict[str, str]
                     ) -> tuple[dict[str, int], int]:
    counts = [func.count().filter(_starts(col, prefix)) for prefix in prefixes.values()]
    row = connection.execute(select(func.count().filter(col.is_not(None)), *counts)
                             .select_from(from_)).one()
    return dict(zip(prefixes, row[1:], strict=True)), row[0]


def key_status(engine: Engine, keyring: Keyring) -> KeyStatus:
    """Count, per key, the values and digests it still covers (for `madoguchi keys status`)."""
    from madoguchi.models import ResidentSearchTerm

    status = KeyStatus(
        data=[KeyUse(key_id, newest=n == 0) for n, key_id in enumerate(keyring.data_ids)],
        index=[KeyUse(key_id, newest=n == 0) for n, key_id in enumerate(keyring.index_ids)])
    data_prefixes = {k: f"{TOKEN_PREFIX}{k}:" for k in keyring.data_ids}
    index_prefixes = {k: f"{k}:" for k in keyring.index_ids}
    with engine.connect() as connection:
        for col in sealed_columns():
            raw = col.raw
            value = raw.c[col.name]
            counts, total = _count_by_prefix(connection, raw, value, data_prefixes)
            unsealed = connection.execute(select(func.count()).select_from(raw).where(
                value.is_not(None), not_(_starts(value, TOKEN_PREFIX)))).scalar_one()
            status.unsealed += unsealed
            status.other_data += total - sum(counts.values()) - unsealed
            for use in status.data:
                use.count += counts[use.key_id]
            status.per_column[col.label] = {**counts, "unsealed": unsealed}
        term = ResidentSearchTerm.__table__
        index_sources = [(c.table, c.table.c[c.name], c.label) for c in digest_columns()]
        index_sources.append((term, term.c.term, "resident_search_terms.term"))
        for from_, col, label in index_sources:
            counts, total = _count_by_prefix(connection, from_, col, index_prefixes)
            status.other_index += total - sum(counts.values())
            for use in status.index:
                use.count += counts[use.key_id]
            status.per_column[label] = counts
    return status
