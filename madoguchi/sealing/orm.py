"""Keeps blind-index columns in step with their sources whenever the ORM writes a row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapper, Session

from madoguchi.sealing.blind import BlindIndex

_SPECS: dict[Mapper[Any], list[tuple[str, BlindIndex]]] = {}


def digest_columns(mapper: Mapper[Any]) -> list[tuple[str, BlindIndex]]:
    """The (attribute, index) pairs of a mapped class's blind-index columns."""
    found = _SPECS.get(mapper)
    if found is None:
        found = [(attr.key, column.info["blind_index"])
                 for attr in mapper.column_attrs
                 for column in attr.columns if "blind_index" in column.info]
        _SPECS[mapper] = found
    return found


def _fill_digests(session: Session, _context, _instances) -> None:
    """Before a flush: new rows get their digests, changed sources get theirs recomputed."""
    for obj in [*session.new, *session.dirty]:
        state = inspect(obj)
        specs = digest_columns(state.mapper)
        if not specs:
            continue
        for key, spec in specs:
            changed = state.pending or any(
                state.attrs[source].history.has_changes() for source in spec.sources)
            if changed:
                setattr(obj, key, spec.digest_of(*(getattr(obj, s) for s in spec.sources)))


def install() -> None:
    """Attach the digest keeper to every Session (idempotent)."""
    if not event.contains(Session, "before_flush", _fill_digests):
        event.listen(Session, "before_flush", _fill_digests)


def with_digests(model: type, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bulk insert/update rows with their digest columns added (from the sources each row has)."""
    specs = digest_columns(inspect(model))
    return [{**row, **{key: spec.digest_of(*(row[source] for source in spec.sources))
                       for key, spec in specs
                       if all(source in row for source in spec.sources)}}
            for row in rows]
