"""A real Celery worker, in its own process, takes a job from Redis and writes to PostgreSQL."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from audit.models import AuditEvent
from audit.services import audit_record
from jobs.enums import JobStatus
from jobs.models import Job
from jobs.services import job_enqueue
from yikatong.celery import app

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker_queue():
    """A queue of this test's own, so no message of another run can be taken or left behind."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    previous = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "YIKATONG_VAR_DIR": str(settings.VAR_DIR),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "yikatong",
            "worker",
            "--pool=solo",
            "--queues",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    app.conf.task_always_eager, app.conf.task_default_queue = previous


def _wait_for(job_id: int, timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout}s")


def test_a_worker_takes_the_job_from_redis_and_writes_its_result_to_postgres(worker_queue, finance_admin):
    audit_record(acting_user=finance_admin, action="test.before_worker")
    job = job_enqueue(acting_user=finance_admin, kind="audit.verify")  # committed: sent to Redis

    job = _wait_for(job.pk)

    output = ""
    if job.status != JobStatus.SUCCEEDED:
        worker_queue.terminate()
        output = worker_queue.communicate(timeout=20)[0]
    assert job.status == JobStatus.SUCCEEDED, output
    assert job.attempts == 1
    assert job.counts["entries"] >= 2  # the entry above and the enqueue entry, at least
    assert AuditEvent.objects.filter(action="job.finish", object_id=str(job.pk)).exists()
    assert worker_queue.poll() is None, "the worker is a separate, still running process"
