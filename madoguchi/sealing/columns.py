"""Column types that seal on the way into the database and open on the way out.

`Sealed("calls.from_e164")` keeps model code as it was: the attribute holds the plain value in
Python, the database holds only the sealed text. The column's own name is the context bound
into the seal. Equality, LIKE and ordering on a sealed column would compare ciphertexts, which
never match; they raise at once instead of finding nothing. Exact lookups use the blind indexes
(madoguchi.sealing.blind).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import Text
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.types import TypeDecorator

from madoguchi.sealing import state

# Comparisons that still mean something on sealed text: whether there is a value at all.
_ALLOWED = {operators.is_, operators.is_not}


class SealedComparison(TypeError):
    """A query compared or ordered a sealed column; use its blind index instead."""


class Sealed(TypeDecorator):
    """Text sealed with the process's newest data key; the context names the column."""

    impl = Text
    cache_ok = True

    class comparator_factory(Text.Comparator):
        """Refuses comparisons that would silently compare ciphertexts."""

        def operate(self, op, *other, **kwargs):
            """Allow IS NULL / IS NOT NULL (and == None); refuse comparisons with values.

            Column-to-column equality stays allowed: SQLAlchemy itself compares column objects
            when it looks them up in its own dictionaries.
            """
            if op in _ALLOWED or (op in (operators.eq, operators.ne) and len(other) == 1 and (
                    other[0] is None or isinstance(other[0], ColumnClause))):
                return super().operate(op, *other, **kwargs)
            raise SealedComparison(
                f"{self.type.context} is sealed: compare its blind index, not the column")

        def reverse_operate(self, op, other, **kwargs):
            """Refuse comparisons written the other way round too."""
            raise SealedComparison(
                f"{self.type.context} is sealed: compare its blind index, not the column")

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def to_text(self, value: Any) -> str:
        """The Python value as the text that is sealed."""
        return value

    def from_text(self, text: str) -> Any:
        """The opened text as the Python value."""
        return text

    def process_bind_param(self, value: Any, dialect) -> str | None:
        """Seal the value (None stays NULL)."""
        if value is None:
            return None
        return state.current().seal(self.to_text(value).encode(), self.context)

    def process_result_value(self, value: str | None, dialect) -> Any:
        """Open the value; a value that does not open raises (never garbage)."""
        if value is None:
            return None
        return self.from_text(state.current().open(value, self.context).decode())

    def coerce_compared_value(self, op, value):
        """Compared values are not sealed (the comparator refuses the comparison first)."""
        return Text()


class SealedDate(Sealed):
    """A date sealed as its ISO text (YYYY-MM-DD)."""

    cache_ok = True

    def to_text(self, value: date) -> str:
        """YYYY-MM-DD."""
        return value.isoformat()

    def from_text(self, text: str) -> date:
        """The date back."""
        return date.fromisoformat(text)


class SealedJSON(Sealed):
    """A JSON document sealed as one value (a call step's result: numbers, keyed digits)."""

    cache_ok = True

    def to_text(self, value: Any) -> str:
        """Compact JSON, Japanese kept as is."""
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def from_text(self, text: str) -> Any:
        """The document back."""
        return json.loads(text)
