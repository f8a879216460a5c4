"""The periodic threshold check: a real worker process, real Redis, SMS through the simulator."""

from __future__ import annotations

from datetime import timedelta

from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select

from agent_console.services import line_watch as watch
from madoguchi import job_queues, periodic
from madoguchi.models import AlertEvent, Call, utcnow
from madoguchi.telephony.network import SimulatedNetwork
from tests.conftest import ROOT
from tests.madoguchi.test_cli import run_worker_burst

DUTY_MOBILE = "+819011112222"


def _config_with_sms(tmp_path) -> str:
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('notify = ["screen"]', 'notify = ["screen", "sms"]')
    text = text.replace('duty_supervisor_phone = ""', 'duty_supervisor_phone = "090-1111-2222"')
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _holders(session, count: int) -> None:
    now = utcnow()
    for n in range(count):
        session.add(Call(call_sid=f"CA-holder-{n}", started_at=now - timedelta(minutes=1),
                         queued_at=now - timedelta(seconds=30), outcome="queued",
                         status="in-progress", path=[]))
    session.commit()


def _run_check(env, redis_client):
    job = Queue(job_queues.MAINTENANCE_QUEUE, connection=redis_client).enqueue(watch.check_line)
    completed = run_worker_burst(env)
    assert completed.returncode == 0, completed.stderr
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED, completed.stderr
    return job.return_value()


def test_a_breach_found_by_the_worker_is_recorded_once_and_texted_to_the_duty_supervisor_once(
        base_env, committed_db, redis_client, tmp_path):
    env = {**base_env, "MADOGUCHI_CONFIG": _config_with_sms(tmp_path)}
    with committed_db() as session:
        _holders(session, 3)  # holding_now amber is 3
    assert _run_check(env, redis_client) == 1
    assert _run_check(env, redis_client) == 0
    with committed_db() as session:
        rows = session.scalars(select(AlertEvent)).all()
    assert [(row.metric, row.level, row.notified) for row in rows] == [
        ("holding_now", "amber", "screen,sms")]
    [text] = SimulatedNetwork(redis_client).messages(DUTY_MOBILE)
    assert "待っている人" in text.body and "注意" in text.body


def test_the_check_is_kept_scheduled_as_one_repeating_job(redis_client):
    assert periodic.ensure_periodic_jobs(redis_client, watch.PERIODIC_JOBS) is True
    assert periodic.ensure_periodic_jobs(redis_client, watch.PERIODIC_JOBS) is False
    job = Job.fetch(watch.WATCH.job_id, connection=redis_client)
    assert job.func_name.endswith("check_line")
    assert job.args == ()
