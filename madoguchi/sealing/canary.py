"""The start-up check: this database's canary opens with the given keys, or nothing starts."""

from __future__ import annotations

from sqlalchemy import Engine, column, insert, select, table
from sqlalchemy.exc import IntegrityError

from madoguchi.sealing.keyring import BrokenSeal, Keyring, SealError, UnknownKey, key_id_of
from madoguchi.settings import SettingsError

CANARY_ID = 1
CANARY_TEXT = "madoguchi sealing canary"
DATA_CONTEXT = "sealing_canary.data_token"
INDEX_KIND = "canary"
INDEX_VALUE = "madoguchi-index-canary"
SEALED = "sealed"
PLAINTEXT = "plaintext"

# The raw row, without the sealed column type: the check opens it with an explicit keyring.
_canary = table("sealing_canary", column("id"), column("state"), column("data_token"),
                column("index_digest"), column("updated_at"))


class WrongKeys(SettingsError):
    """The keys given are not the keys this database was sealed or indexed with."""


class UnsealedData(SettingsError):
    """The database still holds an earlier version's unsealed data."""


def canary_values(keyring: Keyring) -> dict[str, str]:
    """The canary's sealed value and digest under the newest keys."""
    return {"data_token": keyring.seal(CANARY_TEXT.encode(), DATA_CONTEXT),
            "index_digest": keyring.digest(INDEX_KIND, INDEX_VALUE)}


def _check_data(keyring: Keyring, token: str) -> None:
    key_id = key_id_of(token) or "?"
    try:
        opened = keyring.open(token, DATA_CONTEXT).decode()
    except UnknownKey:
        raise WrongKeys(
            f"{keyring.data_source}: this database is sealed with data key {key_id!r}, which is "
            f"not among the keys given ({', '.join(keyring.data_ids)}); give the keys it was "
            "sealed with, newest first") from None
    except SealError:
        opened = None
    if opened != CANARY_TEXT:
        raise WrongKeys(
            f"{keyring.data_source}: data key {key_id!r} does not open this database's sealed "
            "values: it is not the key they were sealed with (check the key under that id)")


def _check_index(keyring: Keyring, digest: str) -> None:
    if digest in keyring.lookup_digests(INDEX_KIND, INDEX_VALUE):
        return
    key_id = digest.partition(":")[0]
    if key_id not in keyring.index_ids:
        raise WrongKeys(
            f"{keyring.index_source}: this database's search index is keyed with index key "
            f"{key_id!r}, which is not among the keys given ({', '.join(keyring.index_ids)})")
    raise WrongKeys(
        f"{keyring.index_source}: index key {key_id!r} is not the key this database's search "
        "index was built with (check the key under that id)")


_residents = table("residents", column("id"), column("name"))


def _check_existing_residents(connection, keyring: Keyring) -> None:
    """Without a canary, a resident's sealed name must open before a canary is written."""
    token = connection.execute(select(_residents.c.name).order_by(_residents.c.id).limit(1)
                               ).scalar()
    if token is None or key_id_of(token) is None:
        return
    try:
        keyring.open(token, "residents.name")
    except UnknownKey:
        raise WrongKeys(
            f"{keyring.data_source}: this database is sealed with data key "
            f"{key_id_of(token)!r}, which is not among the keys given "
            f"({', '.join(keyring.data_ids)})") from None
    except SealError:
        raise WrongKeys(
            f"{keyring.data_source}: data key {key_id_of(token)!r} does not open this "
            "database's sealed values: it is not the key they were sealed with") from None


def verify(engine: Engine, keyring: Keyring) -> None:
    """Check the keys against the database's canary (writing it on first start); raises WrongKeys.

    Raises UnsealedData while an earlier version's data waits to be sealed, and lets database
    errors (unreachable, no tables yet) through for the caller to decide.
    """
    with engine.connect() as connection:
        row = connection.execute(
            select(_canary.c.state, _canary.c.data_token, _canary.c.index_digest)
            .where(_canary.c.id == CANARY_ID)).first()
        if row is None:
            from madoguchi.models import utcnow

            _check_existing_residents(connection, keyring)
            try:
                connection.execute(insert(_canary).values(
                    id=CANARY_ID, state=SEALED, updated_at=utcnow(), **canary_values(keyring)))
                connection.commit()
                return
            except IntegrityError:
                connection.rollback()  # another process wrote it first: check theirs
                row = connection.execute(
                    select(_canary.c.state, _canary.c.data_token, _canary.c.index_digest)
                    .where(_canary.c.id == CANARY_ID)).one()
        connection.rollback()
    if row.state == PLAINTEXT:
        raise UnsealedData(
            "the database still holds residents' data unsealed by an earlier version of "
            "Madoguchi; run: madoguchi db upgrade (it seals it, with a progress bar)")
    _check_data(keyring, row.data_token or "")
    _check_index(keyring, row.index_digest or "")


__all__ = ["BrokenSeal", "UnsealedData", "WrongKeys", "verify"]
