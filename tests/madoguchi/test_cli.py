"""The `madoguchi` command: database, users, counters, the worker and its maintenance job."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import func, inspect, select, update
from werkzeug.security import check_password_hash

from madoguchi import booking, job_queues, maintenance, periodic
from madoguchi.cli import main
from madoguchi.db import make_engine
from madoguchi.models import Booking, Operator, Resident, Slot
from tests import factories

MADOGUCHI_SCRIPT = Path(sys.executable).parent / "madoguchi"


def invoke(base_env: dict[str, str], *args: str, input: str | None = None, **env: str):
    """Run the CLI in-process with the test backends (plus any changed variables)."""
    return CliRunner().invoke(main, list(args), env={**base_env, **env}, input=input)


def one_line_error(result) -> str:
    """The single stderr line of a failed command."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# --- db upgrade ------------------------------------------------------------------------------


def test_db_upgrade_creates_the_tables_of_a_new_database_and_a_second_run_changes_nothing(
    tmp_path, base_env
):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    first = invoke(base_env, "db", "upgrade", DATABASE_URL=url)
    assert first.exit_code == 0, first.output
    assert "up to date" in first.stdout
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"residents", "slots", "bookings", "operators", "alembic_version"} <= tables
        second = invoke(base_env, "db", "upgrade", DATABASE_URL=url)
        assert second.exit_code == 0, second.output
        assert second.stdout == first.stdout
        assert set(inspect(engine).get_table_names()) == tables
    finally:
        engine.dispose()


def test_db_upgrade_on_the_migrated_test_database_is_harmless(base_env, committed_db):
    with committed_db() as session:
        factories.resident(session)
        session.commit()
    for _ in range(2):
        result = invoke(base_env, "db", "upgrade")
        assert result.exit_code == 0, result.output
    with committed_db() as session:
        assert session.scalar(select(func.count()).select_from(Resident)) == 1


def test_a_command_on_a_database_without_tables_says_to_run_db_upgrade(tmp_path, base_env):
    result = invoke(base_env, "reconcile", DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.exit_code == 2
    assert one_line_error(result) == (
        "Error: the database has no tables yet; run: madoguchi db upgrade"
    )


@pytest.mark.parametrize(
    "url",
    ["sqlite:////nonexistent-madoguchi-dir/madoguchi.db", "postgresql://postgres@127.0.0.1:1/city"],
    ids=["sqlite-folder-missing", "postgres-not-listening"],
)
@pytest.mark.parametrize(
    "command",
    [["reconcile"], ["db", "upgrade"], ["serve"], ["worker", "--burst"], ["demo-data"],
     ["create-user", "mori", "--role", "operator", "--password-stdin"]],
    ids=" ".join,
)
def test_an_unreachable_database_is_one_line_and_exit_2(base_env, url, command):
    result = invoke(base_env, *command, DATABASE_URL=url)
    assert result.exit_code == 2
    line = one_line_error(result)
    assert line.startswith("Error: DATABASE_URL: cannot reach the database ")
    assert "check that it is running" in line


def test_the_installed_script_reports_an_unreachable_database_in_one_line(base_env):
    completed = subprocess.run(
        [str(MADOGUCHI_SCRIPT), "reconcile"],
        env={**base_env, "DATABASE_URL": "postgresql://postgres:hunter2@127.0.0.1:1/city",
             "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert completed.stderr.startswith("Error: DATABASE_URL: cannot reach the database")
    assert "hunter2" not in completed.stderr


# --- create-user -----------------------------------------------------------------------------


def test_create_user_reads_the_password_from_stdin_and_stores_only_its_hash(
    base_env, committed_db
):
    result = invoke(
        base_env, "create-user", "sato", "--role", "supervisor", "--name", "佐藤 花子",
        "--password-stdin", input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "Created supervisor sato.\n"
    with committed_db() as session:
        user = session.scalars(select(Operator).where(Operator.username == "sato")).one()
    assert (user.role, user.display_name, user.active) == ("supervisor", "佐藤 花子", True)
    assert user.password_hash != "correct horse battery"
    assert check_password_hash(user.password_hash, "correct horse battery")


def test_create_user_asks_for_the_password_twice(base_env, committed_db):
    result = invoke(
        base_env, "create-user", "kato", "--role", "operator", input="s3cret-pass\ns3cret-pass\n"
    )
    assert result.exit_code == 0, result.output
    assert "Repeat the password" in result.output
    with committed_db() as session:
        user = session.scalars(select(Operator).where(Operator.username == "kato")).one()
    assert user.display_name == "kato"
    assert check_password_hash(user.password_hash, "s3cret-pass")


def test_create_user_refuses_a_username_that_exists(base_env, committed_db):
    first = invoke(base_env, "create-user", "ito", "--role", "admin", "--password-stdin",
                   input="first-password\n")
    assert first.exit_code == 0, first.output
    again = invoke(base_env, "create-user", "ito", "--role", "operator", "--password-stdin",
                   input="second-password\n")
    assert again.exit_code == 1
    assert one_line_error(again) == (
        'Error: a user named "ito" already exists; choose another username'
    )
    with committed_db() as session:
        users = session.scalars(select(Operator).where(Operator.username == "ito")).all()
    assert [(u.role, check_password_hash(u.password_hash, "first-password")) for u in users] == [
        ("admin", True)
    ]


def test_create_user_refuses_a_short_password_and_writes_nothing(base_env, committed_db):
    result = invoke(base_env, "create-user", "abe", "--role", "operator", "--password-stdin",
                    input="short\n")
    assert result.exit_code == 1
    assert "at least 8 characters" in one_line_error(result)
    with committed_db() as session:
        assert session.scalars(select(Operator)).all() == []


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["create-user", "abe", "--role", "boss", "--password-stdin"], "'boss' is not one of"),
        (["create-user", "a b", "--role", "operator", "--password-stdin"], "USERNAME"),
    ],
    ids=["unknown-role", "username-with-space"],
)
def test_create_user_explains_a_wrong_role_or_username(base_env, committed_db, args, complaint):
    result = invoke(base_env, *args, input="long-enough-password\n")
    assert result.exit_code == 2
    assert complaint in result.stderr
    with committed_db() as session:
        assert session.scalars(select(Operator)).all() == []


# --- reconcile -------------------------------------------------------------------------------


@pytest.fixture
def booked_slot(committed_db) -> int:
    """A slot of capacity 10 with one confirmed booking and one live hold; its id."""
    with committed_db() as session:
        campaign = factories.campaign(session)
        site = factories.site(session)
        slot = factories.slot(session, campaign_id=campaign.id, site_id=site.id)
        session.commit()
        booking.book(session, slot_id=slot.id, resident_id=factories.resident(session).id,
                     channel="ivr")
        booking.hold(session, slot_id=slot.id, resident_id=factories.resident(session).id,
                     channel="operator")
        return slot.id


def test_reconcile_on_exact_counters_says_so_and_exits_0(base_env, booked_slot):
    result = invoke(base_env, "reconcile")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Every slot counter matches the booking rows.\n"


def test_reconcile_prints_each_tampered_counter_and_exits_1(base_env, committed_db, booked_slot):
    with committed_db() as session:
        session.execute(update(Slot).where(Slot.id == booked_slot).values(booked_count=7))
        session.commit()
    result = invoke(base_env, "reconcile")
    assert result.exit_code == 1
    assert result.stdout == f"slot {booked_slot}: booked_count is 7, the booking rows say 2\n"
    assert "madoguchi reconcile --repair" in result.stderr
    with committed_db() as session:
        assert session.get(Slot, booked_slot).booked_count == 7  # only reported, not changed


def test_reconcile_repair_sets_counters_from_the_rows(base_env, committed_db, booked_slot):
    with committed_db() as session:
        session.execute(
            update(Slot).where(Slot.id == booked_slot).values(booked_count=0, booked_ivr=3)
        )
        session.commit()
    repaired = invoke(base_env, "reconcile", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert f"slot {booked_slot}: booked_count is 0, the booking rows say 2" in repaired.stdout
    assert f"slot {booked_slot}: booked_ivr is 3, the booking rows say 1" in repaired.stdout
    assert "Repaired 2 counter(s)" in repaired.stdout
    with committed_db() as session:
        slot = session.get(Slot, booked_slot)
        assert (slot.booked_count, slot.booked_ivr, slot.booked_operator) == (2, 1, 1)
    assert invoke(base_env, "reconcile").exit_code == 0


# --- the worker and the maintenance job ------------------------------------------------------


@pytest.fixture
def expired_hold(committed_db) -> tuple[int, int]:
    """A hold that ran out twenty minutes ago, still taking a place: (booking id, slot id)."""
    with committed_db() as session:
        campaign = factories.campaign(session)
        site = factories.site(session)
        slot = factories.slot(session, campaign_id=campaign.id, site_id=site.id)
        session.commit()
        held = booking.hold(
            session, slot_id=slot.id, resident_id=factories.resident(session).id,
            channel="ivr", hold_minutes=10, now=datetime.now(UTC) - timedelta(minutes=30),
        )
        assert session.get(Slot, slot.id).booked_count == 1
        return held.id, slot.id


def run_worker_burst(base_env: dict[str, str], *queues: str) -> subprocess.CompletedProcess:
    """`madoguchi worker --burst` as a real process on the test database and Redis."""
    args = [str(MADOGUCHI_SCRIPT), "worker", "--burst"]
    for name in queues:
        args += ["--queue", name]
    return subprocess.run(
        args, env={**base_env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=120,
    )


def test_a_burst_worker_runs_a_queued_job_against_the_database_and_exits(
    base_env, redis_client, committed_db, expired_hold
):
    booking_id, slot_id = expired_hold
    job = Queue(job_queues.MAINTENANCE_QUEUE, connection=redis_client).enqueue(
        maintenance.release_expired_holds
    )
    completed = run_worker_burst(base_env)
    assert completed.returncode == 0, completed.stderr
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 1
    assert job.args == ()
    with committed_db() as session:
        assert session.get(Booking, booking_id).status == "expired"
        assert session.get(Slot, slot_id).booked_count == 0
    # A burst worker drains the queues; it does not start the repeating maintenance chain.
    assert not Job.exists(maintenance.HOLD_RELEASE.job_id, connection=redis_client)


def test_a_worker_only_takes_jobs_from_the_queues_it_is_given(
    base_env, redis_client, committed_db, expired_hold
):
    job = Queue(job_queues.MAINTENANCE_QUEUE, connection=redis_client).enqueue(
        maintenance.release_expired_holds
    )
    completed = run_worker_burst(base_env, job_queues.DEFAULT_QUEUE)
    assert completed.returncode == 0, completed.stderr
    assert job.get_status(refresh=True) == JobStatus.QUEUED


def test_the_hold_release_job_is_scheduled_once_with_a_fixed_id_and_no_arguments(redis_client):
    assert periodic.ensure_periodic_jobs(redis_client, maintenance.PERIODIC_JOBS) is True
    assert periodic.ensure_periodic_jobs(redis_client, maintenance.PERIODIC_JOBS) is False
    job = Job.fetch(maintenance.HOLD_RELEASE.job_id, connection=redis_client)
    assert job.func_name == "madoguchi.maintenance.release_expired_holds"
    assert (job.args, job.kwargs) == ((), {})
    assert job.repeats_left == maintenance.HOLD_RELEASE.repeats
    assert job.repeat_intervals == [maintenance.HOLD_RELEASE.interval_seconds]
    queue = Queue(job_queues.MAINTENANCE_QUEUE, connection=redis_client)
    assert queue.job_ids == [maintenance.HOLD_RELEASE.job_id, maintenance.RETENTION_PURGE.job_id,
                             maintenance.CALL_MOVES_SWEEP.job_id]


def test_the_sweep_of_buffered_call_moves_is_scheduled_with_a_fixed_id_and_no_arguments(
        redis_client):
    assert periodic.ensure_periodic_jobs(redis_client, maintenance.PERIODIC_JOBS) is True
    job = Job.fetch(maintenance.CALL_MOVES_SWEEP.job_id, connection=redis_client)
    assert job.func_name == "madoguchi.maintenance.fold_idle_call_moves"
    assert (job.args, job.kwargs) == ((), {})
    assert job.repeat_intervals == [5 * 60]


def test_the_retention_purge_is_scheduled_daily_with_a_fixed_id_and_no_arguments(redis_client):
    assert periodic.ensure_periodic_jobs(redis_client, maintenance.PERIODIC_JOBS) is True
    job = Job.fetch(maintenance.RETENTION_PURGE.job_id, connection=redis_client)
    assert job.func_name == "madoguchi.retention.purge_due_records"
    assert (job.args, job.kwargs) == ((), {})
    assert job.repeat_intervals == [24 * 60 * 60]


def test_the_hold_release_job_repeats_every_minute_after_running(
    base_env, redis_client, committed_db, expired_hold
):
    booking_id, _ = expired_hold
    periodic.ensure_periodic_jobs(redis_client, maintenance.PERIODIC_JOBS)
    completed = run_worker_burst(base_env)
    assert completed.returncode == 0, completed.stderr
    with committed_db() as session:
        assert session.get(Booking, booking_id).status == "expired"
    job = Job.fetch(maintenance.HOLD_RELEASE.job_id, connection=redis_client)
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.repeats_left == maintenance.HOLD_RELEASE.repeats - 1
    queue = Queue(job_queues.MAINTENANCE_QUEUE, connection=redis_client)
    run_at = queue.scheduled_job_registry.get_scheduled_time(job)
    # A minute after the run ended (counted from the run, not from now: a slow machine may take
    # a while to get back here).
    ended = job.ended_at.replace(tzinfo=UTC) if job.ended_at.tzinfo is None else job.ended_at
    assert timedelta(seconds=55) <= run_at - ended <= timedelta(seconds=61)
    # Still one chain: a worker starting now does not add a second copy.
    assert periodic.ensure_periodic_jobs(redis_client, maintenance.PERIODIC_JOBS) is False
    assert queue.job_ids == []


def test_a_hold_release_chain_that_ended_is_started_again(redis_client):
    periodic.ensure_periodic_jobs(redis_client, maintenance.PERIODIC_JOBS)
    job = Job.fetch(maintenance.HOLD_RELEASE.job_id, connection=redis_client)
    queue = Queue(job_queues.MAINTENANCE_QUEUE, connection=redis_client)
    queue.remove(job)
    job.set_status(JobStatus.FAILED)
    assert periodic.ensure_periodic_jobs(redis_client, maintenance.PERIODIC_JOBS) is True
    assert queue.job_ids == [maintenance.RETENTION_PURGE.job_id,
                             maintenance.CALL_MOVES_SWEEP.job_id, maintenance.HOLD_RELEASE.job_id]
    assert Job.fetch(maintenance.HOLD_RELEASE.job_id, connection=redis_client).get_status() == (
        JobStatus.QUEUED
    )


def test_the_worker_needs_redis_url(base_env):
    env = {key: value for key, value in base_env.items() if key != "REDIS_URL"}
    result = CliRunner().invoke(main, ["worker", "--burst"], env={**env, "REDIS_URL": ""})
    assert result.exit_code == 2
    assert one_line_error(result).startswith("Error: REDIS_URL: not set")


def test_the_worker_reports_an_unreachable_redis_in_one_line(base_env, engine):
    result = invoke(base_env, "worker", "--burst", REDIS_URL="redis://127.0.0.1:1/0")
    assert result.exit_code == 2
    assert one_line_error(result).startswith("Error: REDIS_URL: cannot reach Redis")


# --- import-residents ------------------------------------------------------------------------

HEADER = "resident_no,name,name_kana,birth_date,phone,language\n"


def test_import_residents_imports_the_file_and_prints_the_report(tmp_path, base_env, committed_db):
    csv_file = tmp_path / "residents.csv"
    csv_file.write_text(
        HEADER + "R001,山田 太郎,ヤマダ タロウ,1948-05-17,03-1234-5678,ja\n"
        "R002,佐藤 花子,サトウ ハナコ,1952-11-02,,en\n",
        encoding="utf-8",
    )
    result = invoke(base_env, "import-residents", str(csv_file))
    assert result.exit_code == 0, result.output
    assert "2 new, 0 updated" in result.stdout
    with committed_db() as session:
        numbers = session.scalars(select(Resident.resident_no))
        assert sorted(numbers) == ["R001", "R002"]


def test_import_residents_lists_every_bad_line_writes_nothing_and_exits_1(
    tmp_path, base_env, committed_db
):
    csv_file = tmp_path / "residents.csv"
    csv_file.write_text(
        HEADER + "R001,山田 太郎,ヤマダ タロウ,1948-02-30,,ja\n"
        "R002,佐藤 花子,サトウ ハナコ,1952-11-02,,ja\n"
        "R003,=HYPERLINK(\"x\"),スズキ,1950-01-01,,ja\n",
        encoding="utf-8",
    )
    result = invoke(base_env, "import-residents", str(csv_file))
    assert result.exit_code == 1
    assert "2行目" in result.stderr and "4行目" in result.stderr
    assert "nothing was written" in result.stderr
    assert "Traceback" not in result.output
    with committed_db() as session:
        assert session.scalar(select(func.count()).select_from(Resident)) == 0


def test_import_residents_names_a_missing_file(tmp_path, base_env):
    result = invoke(base_env, "import-residents", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2
    assert "missing.csv" in result.stderr and "does not exist" in result.stderr


# --- the command list ------------------------------------------------------------------------


def test_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("serve", "worker", "db", "create-user", "reconcile", "demo-data",
                 "import-residents"):
        assert f"  {name} " in result.stdout


def test_the_terminal_phone_is_offered_when_the_simulator_is_installed():
    if importlib.util.find_spec("madoguchi.telephony.phone_cli") is None:
        pytest.skip("the simulator's terminal phone is not part of this installation")
    listed = CliRunner().invoke(main, ["--help"])
    assert "  phone " in listed.stdout
    result = CliRunner().invoke(main, ["phone", "--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: main phone [OPTIONS]")


# --- demo-data -------------------------------------------------------------------------------


def test_demo_data_fills_an_empty_database_with_exact_counters_and_refuses_a_second_time(
    base_env, committed_db
):
    from madoguchi.demo_data import DEMO_USERS

    loaded = invoke(base_env, "demo-data", "--residents", "60")
    assert loaded.exit_code == 0, loaded.output
    assert "demo city loaded" in loaded.stdout
    with committed_db() as session:
        assert session.scalar(select(func.count()).select_from(Resident)) == 60
        assert session.scalar(select(func.count()).select_from(Slot)) > 0
        usernames = set(session.scalars(select(Operator.username)))
    assert usernames == {name for name, _, _ in DEMO_USERS}
    assert invoke(base_env, "reconcile").exit_code == 0

    again = invoke(base_env, "demo-data", "--residents", "60")
    assert again.exit_code == 1
    assert "only loaded into an empty database" in one_line_error(again)
    with committed_db() as session:
        assert session.scalar(select(func.count()).select_from(Resident)) == 60
