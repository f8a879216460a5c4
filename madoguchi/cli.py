"""The `madoguchi` command: serve, worker, database, users, residents, counters, retention."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from madoguchi.models import ROLES
from madoguchi.settings import Settings, SettingsError, load_settings

USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{2,60}$")
MIN_PASSWORD_LENGTH = 8


class ServiceUnavailable(Exception):
    """The database or Redis cannot be reached or is not set up; the message says what to do."""


def one_line(message: object) -> str:
    """The message on one line, so an error is exactly one line on stderr."""
    return " ".join(str(message).split())


# Commands that live with the part they belong to, imported only when used.
LAZY_COMMANDS = {"phone": "madoguchi.telephony.phone_cli"}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class MadoguchiGroup(click.Group):
    """The command group: settings and service errors become one line on stderr and exit 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Built-in commands plus the lazily loaded ones that are installed."""
        lazy = [name for name, module in LAZY_COMMANDS.items() if _installed(module)]
        return sorted([*super().list_commands(ctx), *lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """A built-in command, or a lazy one imported on first use."""
        command = super().get_command(ctx, name)
        if command is None and name in LAZY_COMMANDS and _installed(LAZY_COMMANDS[name]):
            command = getattr(importlib.import_module(LAZY_COMMANDS[name]), name)
        return command

    def invoke(self, ctx: click.Context):
        """Run the command, turning configuration and connection problems into one clear line."""
        try:
            return super().invoke(ctx)
        except (SettingsError, ServiceUnavailable) as exc:
            click.echo(f"Error: {one_line(exc)}", err=True)
            ctx.exit(2)


@click.group(cls=MadoguchiGroup)
@click.version_option(package_name="madoguchi")
def main() -> None:
    """Madoguchi: the city's phone line and call center."""


# --- shared plumbing -------------------------------------------------------------------------


def check_database(engine: Engine) -> None:
    """Raise ServiceUnavailable unless the database answers."""
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        address = engine.url.render_as_string(hide_password=True)
        raise ServiceUnavailable(
            f"DATABASE_URL: cannot reach the database {address} ({reason}); "
            "check that it is running and that DATABASE_URL is right"
        ) from None


def require_schema(engine: Engine) -> None:
    """Raise ServiceUnavailable unless the database has the newest schema."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from madoguchi.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        raise ServiceUnavailable("the database has no tables yet; run: madoguchi db upgrade")
    if current != head:
        raise ServiceUnavailable(
            "the database schema is older than this version of Madoguchi; "
            "run: madoguchi db upgrade"
        )


def connected_engine(settings: Settings) -> Engine:
    """An engine on DATABASE_URL that has answered once."""
    from madoguchi.db import make_engine

    engine = make_engine(settings.secrets.database_url)
    try:
        check_database(engine)
    except ServiceUnavailable:
        engine.dispose()
        raise
    return engine


@contextmanager
def app_session(settings: Settings | None = None) -> Iterator[Session]:
    """A session inside the app context, on a reachable and migrated database."""
    from madoguchi import create_app
    from madoguchi.db import get_session

    app = create_app(settings or load_settings())
    database = app.extensions["madoguchi_db"]
    try:
        check_database(database.engine)
        require_schema(database.engine)
        with app.app_context():
            yield get_session()
    finally:
        database.engine.dispose()


def _log_to_stderr(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


# --- serve and worker --------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--demo", is_flag=True, help="Load the demo city into an empty database; open 24h.")
@click.option("--verbose", is_flag=True,
              help="Show the worker's routine messages too (by default only its warnings).")
@click.option("--no-demo-operator", "no_demo_operator", is_flag=True,
              help="With --demo: no simulated operator on duty (pressing 0 offers a callback).")
@click.option("--demo-talk-seconds", type=click.FloatRange(min=1), default=None, hidden=True)
@click.option("--web-processes", type=click.IntRange(1, 64), default=None,
              help="Processes serving the web app (default: one per core, at most 4, "
                   "where the system allows several; 1 serves from this process).")
def serve(host: str, port: int, demo: bool, verbose: bool, no_demo_operator: bool,
          demo_talk_seconds: float | None, web_processes: int | None) -> None:
    """Run everything in one process tree: web app, embedded Redis and a worker."""
    from madoguchi import serve as embedded
    from madoguchi.web_processes import (
        WebStartFailed,
        can_fork_servers,
        default_web_processes,
        shares_one_database,
    )

    settings = embedded.serving_settings(
        load_settings(), host=host, port=port, demo=demo, env=dict(os.environ)
    )
    if web_processes is None:
        web_processes = default_web_processes()
    elif web_processes > 1 and not can_fork_servers():
        click.echo("Several web processes are not possible on this system: serving from one.",
                   err=True)
        web_processes = 1
    if not shares_one_database(settings.secrets.database_url):
        web_processes = 1  # an in-memory database lives in one process only
    engine = connected_engine(settings)
    _log_to_stderr()
    try:
        code = embedded.run(settings, engine, host=host, port=port, demo=demo, echo=click.echo,
                            verbose=verbose, demo_operator=not no_demo_operator,
                            demo_talk_seconds=demo_talk_seconds, web_processes=web_processes)
    except (embedded.CannotListen, WebStartFailed) as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--queue", "queue_names", multiple=True, metavar="NAME",
    help="A queue to work (repeatable). Default: all of Madoguchi's queues.",
)
@click.option("--always-open", is_flag=True, hidden=True)
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
              default="INFO", show_default=True, help="The least important messages shown.")
def worker(burst: bool, queue_names: tuple[str, ...], always_open: bool, log_level: str) -> None:
    """Run an RQ worker (with the scheduler) for callbacks and maintenance jobs."""
    from redis.exceptions import RedisError

    from madoguchi import create_app
    from madoguchi.job_queues import QUEUE_NAMES
    from madoguchi.serve import open_all_hours
    from madoguchi.worker import connect_worker_redis, run_worker

    settings = load_settings()
    if always_open:
        settings = open_all_hours(settings)
    url = settings.secrets.redis_url
    if not url:
        raise SettingsError(
            "REDIS_URL: not set; the worker needs the Redis the web app uses "
            "(or run `madoguchi serve`, which starts its own worker)"
        )
    app = create_app(settings)
    database = app.extensions["madoguchi_db"]
    check_database(database.engine)
    require_schema(database.engine)
    connection = connect_worker_redis(url)
    try:
        connection.ping()
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable(
            f"REDIS_URL: cannot reach Redis ({one_line(exc)}); check that it is running"
        ) from None
    _log_to_stderr(log_level)
    try:
        run_worker(app, connection, queue_names or QUEUE_NAMES, burst=burst,
                   logging_level=log_level)
    finally:
        database.engine.dispose()


# --- database ----------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the tables or bring them up to the newest version (safe to repeat)."""
    from alembic.runtime.migration import MigrationContext

    from madoguchi.migrate import bring_up_to_date
    from madoguchi.sealing.startup import check_and_install, keyring_for

    settings = load_settings()
    engine = connected_engine(settings)
    keyring = keyring_for(settings.secrets)
    try:
        sealed = bring_up_to_date(engine, keyring, progress=sys.stderr.isatty())
        check_and_install(engine, keyring)
        with engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    if sealed:
        click.echo("Sealed and indexed the residents' data an earlier version kept in plain text.")
    click.echo(f"The database schema is up to date (revision {revision}).")


@main.command()
@click.option("--repair", is_flag=True, help="Set each wrong counter from the booking rows.")
def reconcile(repair: bool) -> None:
    """Check every slot's counters against its bookings; exit 1 when any differ."""
    from madoguchi import booking

    with app_session() as session:
        found = booking.reconcile(session, repair=repair)
    for item in found:
        click.echo(
            f"slot {item.slot_id}: {item.counter} is {item.stored}, "
            f"the booking rows say {item.counted}"
        )
    if not found:
        click.echo("Every slot counter matches the booking rows.")
    elif repair:
        click.echo(f"Repaired {len(found)} counter(s) from the booking rows.")
    else:
        click.echo(
            f"{len(found)} difference(s) found; run `madoguchi reconcile --repair` "
            "to set the counters from the booking rows.",
            err=True,
        )
        sys.exit(1)


# --- people and data ---------------------------------------------------------------------------


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Repeat the password"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters long"
        )
    return password


@main.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--name", "display_name", help="Name shown in the console (default: USERNAME).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(username: str, role: str, display_name: str | None, password_stdin: bool) -> None:
    """Add a console user; the password is asked twice (or read from stdin)."""
    from werkzeug.security import generate_password_hash

    from madoguchi.models import Operator

    if not USERNAME_RE.match(username):
        raise click.BadParameter(
            "use 2 to 60 letters, digits, dots, hyphens or underscores", param_hint="USERNAME"
        )
    with app_session() as session:
        if session.scalar(select(Operator.id).where(Operator.username == username)):
            raise click.ClickException(
                f'a user named "{username}" already exists; choose another username'
            )
        password = _read_password(password_stdin)
        session.add(
            Operator(
                username=username,
                display_name=display_name or username,
                password_hash=generate_password_hash(password),
                role=role,
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise click.ClickException(
                f'a user named "{username}" already exists; choose another username'
            ) from None
    click.echo(f"Created {role} {username}.")


@main.command("demo-data")
@click.option("--residents", default=2000, show_default=True, type=click.IntRange(1, 200_000))
def demo_data(residents: int) -> None:
    """Fill an EMPTY database with the demo city: residents, slots, users, inquiries, FAQ."""
    settings = load_settings()
    from madoguchi.demo_data import DemoDataError, database_is_empty, load_demo_data

    with app_session(settings) as session:
        if not database_is_empty(session):
            raise click.ClickException(
                "the database already has residents, slots or users; demo data is only "
                "loaded into an empty database (use another DATABASE_URL or MADOGUCHI_VAR_DIR)"
            )
        try:
            summary = load_demo_data(session, settings, residents=residents)
        except DemoDataError as exc:
            raise click.ClickException(one_line(exc)) from None
    click.echo(str(summary))


@main.command("import-residents")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_residents(csv_file: Path) -> None:
    """Import or update residents from the city's CSV export (all rows, or none)."""
    settings = load_settings()
    from madoguchi.resident_import import ImportRejected
    from madoguchi.resident_import import import_residents as run_import

    with app_session(settings) as session:
        try:
            report = run_import(
                session,
                csv_file,
                region=settings.city.region,
                languages=list(settings.languages.offered),
                progress=sys.stderr.isatty(),
            )
        except ImportRejected as exc:
            click.echo(str(exc), err=True)  # every bad line, and that nothing was written
            sys.exit(1)
    click.echo(str(report))



def _phone_network():
    """The app's telephony, or ServiceUnavailable saying what it lacks (inside app_session)."""
    from madoguchi.telephony import TelephonyError, get_telephony

    try:
        return get_telephony()
    except (RuntimeError, TelephonyError) as exc:
        raise ServiceUnavailable(f"the phone network is needed to delete recordings: {exc}"
                                 ) from None


@main.command()
@click.option("--dry-run", is_flag=True, help="Only count what is due; change nothing.")
@click.option("--batch-size", type=click.IntRange(min=1, max=10_000), default=500,
              show_default=True, help="Records anonymised per transaction.")
def purge(dry_run: bool, batch_size: int) -> None:
    """Anonymise call records, closed inquiries and finished callbacks past the retention period."""
    from madoguchi import retention

    settings = load_settings()
    days = settings.privacy.retention_days
    before = retention.cutoff(days)
    with app_session(settings) as session:
        telephony = None if dry_run else _phone_network()
        counts = retention.purge(session, before=before, telephony=telephony,
                                 dry_run=dry_run, batch_size=batch_size)
    since = f"older than {before:%Y-%m-%d %H:%M} UTC ([privacy] retention_days = {days})"
    if dry_run:
        click.echo(f"Would anonymise {counts.total} record(s) {since}: {counts}. "
                   "Nothing was changed (dry run).")
    else:
        click.echo(f"Anonymised {counts.total} record(s) {since}: {counts}. "
                   "Statistics (counts, outcomes, times) are kept.")


if __name__ == "__main__":
    main()


# --- keys that seal residents' data ------------------------------------------------------------


@main.group()
def keys() -> None:
    """Keys that seal residents' data and key its search index: make, check, rotate."""


@keys.command("generate")
@click.option("--id", "key_id", help="The key's id (default: today's date and 4 random hex).")
def keys_generate(key_id: str | None) -> None:
    """Print a new random key as id:base64, for MADOGUCHI_DATA_KEYS or MADOGUCHI_INDEX_KEY."""
    from madoguchi.sealing.keys import KeyFormatError, dated_key_id, new_key

    try:
        key = new_key(key_id or dated_key_id())
    except KeyFormatError as exc:
        raise click.BadParameter(str(exc), param_hint="--id") from None
    click.echo(key.written())


@contextmanager
def _keyed_engine() -> Iterator[tuple[Engine, object]]:
    """The database (reachable, migrated, keys checked) and this process's keyring."""
    from madoguchi.sealing.startup import check_and_install, keyring_for

    settings = load_settings()
    engine = connected_engine(settings)
    try:
        require_schema(engine)
        keyring = keyring_for(settings.secrets)
        check_and_install(engine, keyring)
        yield engine, keyring
    finally:
        engine.dispose()


def _print_status(status) -> None:
    def line(use, unit: str) -> str:
        mark = " (newest)" if use.newest else ""
        return f"  {use.key_id}{mark}: {use.count:,} {unit}"

    click.echo("Data keys (what each still seals):")
    for use in status.data:
        click.echo(line(use, "values"))
    if status.unsealed:
        click.echo(f"  not sealed yet: {status.unsealed:,} values (run: madoguchi db upgrade)")
    if status.other_data:
        click.echo(f"  under keys not given here: {status.other_data:,} values")
    click.echo("Index keys (what each still indexes):")
    for use in status.index:
        click.echo(line(use, "digests"))
    if status.other_index:
        click.echo(f"  under keys not given here: {status.other_index:,} digests")
    if status.data_pending or status.index_pending:
        click.echo("A rotation is not finished: run `madoguchi keys rotate` (and --index) again.")
    else:
        old = [use.key_id for use in [*status.data, *status.index] if not use.newest]
        if old:
            click.echo(f"Nothing is left under {', '.join(old)}: remove them once no backup you "
                       "may restore still needs them.")


@keys.command("status")
def keys_status() -> None:
    """How many values each data key still seals and each index key still indexes."""
    from madoguchi.sealing import rotation

    with _keyed_engine() as (engine, keyring):
        status = rotation.key_status(engine, keyring)
        click.echo(f"Data keys from {keyring.data_source}; index keys from "
                   f"{keyring.index_source}.")
        _print_status(status)


def _until_settled(run, keyring) -> int:
    """Run passes until one finds nothing left (a server may still have sealed with the old key)."""
    from madoguchi.sealing.keyring import REFRESH_SECONDS

    total = run()
    for _ in range(3):
        if keyring.files is not None:
            # Servers re-read the key files every few seconds: let them all see the new key.
            time.sleep(REFRESH_SECONDS + 0.5)
        again = run()
        total += again
        if again == 0:
            break
    return total


@keys.command("rotate")
@click.option("--index", "index_key", is_flag=True,
              help="Rotate the index key: rebuild every digest and search term under it.")
@click.option("--batch-size", type=click.IntRange(min=1, max=10_000), default=500,
              show_default=True, help="Rows per transaction.")
def keys_rotate(index_key: bool, batch_size: int) -> None:
    """Re-seal every value under the newest data key (or rebuild the index); safe to repeat.

    Web processes and workers keep serving meanwhile. With keys in the environment, put the new
    key first in MADOGUCHI_DATA_KEYS (or MADOGUCHI_INDEX_KEY) of every process before running
    this. With the embedded default's key files in var/, a new key is added to the file unless
    an earlier rotation is still unfinished, which is then finished instead.
    """
    from madoguchi.sealing import rotation

    progress = sys.stderr.isatty()
    what = "index" if index_key else "data"
    with _keyed_engine() as (engine, keyring):
        status = rotation.key_status(engine, keyring)
        pending = status.index_pending if index_key else status.data_pending
        if pending == 0:
            if keyring.files is None:
                variable = "MADOGUCHI_INDEX_KEY" if index_key else "MADOGUCHI_DATA_KEYS"
                newest = keyring.newest_index_id if index_key else keyring.newest_data_id
                click.echo(f"Everything is already under the newest {what} key ({newest}). To "
                           f"rotate, put a new key first in {variable} on every process "
                           "(madoguchi keys generate makes one), then run this again.")
                return
            added = keyring.files.add_newest(index=index_key)
            keyring.refresh(force=True)
            path = keyring.files.index_path if index_key else keyring.files.data_path
            click.echo(f"Added the new {what} key {added.id} to {path}.")
        else:
            click.echo(f"Finishing the rotation to {what} key "
                       f"{keyring.newest_index_id if index_key else keyring.newest_data_id}.")
        if index_key:
            done = _until_settled(lambda: rotation.rebuild_indexes(
                engine, keyring, progress=progress, batch_size=batch_size), keyring)
            click.echo(f"Rebuilt {done:,} digests and residents' search terms under index key "
                       f"{keyring.newest_index_id}.")
        else:
            done = _until_settled(lambda: rotation.reseal(
                engine, keyring, progress=progress, batch_size=batch_size), keyring)
            click.echo(f"Re-sealed {done:,} values under data key {keyring.newest_data_id}.")
        _print_status(rotation.key_status(engine, keyring))
